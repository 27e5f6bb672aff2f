package io.egressd.policy;

import java.nio.file.Path;
import java.util.Arrays;

/**
 * {@code egressd check} in miniature: prints {@link AllowlistLoader#check} of its arguments, one
 * error a line. For tests that run the loader in a process of its own, with fewer privileges.
 */
final class CheckMain {

    private CheckMain() {
    }

    public static void main(String[] args) {
        AllowlistLoader.check(Arrays.stream(args).map(Path::of).toList()).forEach(System.out::println);
    }
}
