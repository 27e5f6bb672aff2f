package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * The seed corpus of a Jazzer fuzz test: the files Jazzer runs in regression mode, under
 * src/test/resources/<package>/<Class>Inputs/<method>/. Fuzz tests count their runs against it,
 * so a corpus that went missing fails the build instead of making the test a silent no-op.
 */
final class Seeds {

    private Seeds() {
    }

    /** How many seed files the fuzz test {@code method} of {@code test} has; fails when it has none. */
    static long count(Class<?> test, String method) {
        String dir = test.getSimpleName() + "Inputs/" + method;
        URL url = test.getResource(dir);
        assertThat(url).as("seed corpus %s next to %s", dir, test.getName()).isNotNull();
        try (Stream<Path> files = Files.list(Path.of(url.toURI()))) {
            long n = files.filter(Files::isRegularFile).count();
            assertThat(n).as("seed files in %s", dir).isGreaterThanOrEqualTo(10);
            return n;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }
}
