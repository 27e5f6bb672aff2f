package io.egressd.sandbox;

import static org.assertj.core.api.Assertions.fail;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.Assumptions;

/**
 * The guard of the tests that need root (network and mount namespaces): CI runs as root with
 * {@code CI=true}, so there they must run, and a CI that cannot run them fails; elsewhere a
 * user without root gets a skip that says how to run them.
 */
final class RootOnly {

    /** What a root-only test does on this machine. */
    enum Decision { RUN, FAIL, SKIP }

    private RootOnly() {
    }

    /** {@code ci}: the value of the CI variable (null when unset); {@code uid}: the JVM's user. */
    static Decision decide(String ci, int uid) {
        if (uid == 0) {
            return Decision.RUN;
        }
        return "true".equalsIgnoreCase(ci) ? Decision.FAIL : Decision.SKIP;
    }

    /** Applies {@link #decide} to this JVM: returns when it runs as root, else fails or aborts the test. */
    static void require(String howToRun) {
        int uid = uid();
        switch (decide(System.getenv("CI"), uid)) {
            case RUN -> { }
            case FAIL -> fail("CI=true but this JVM runs as uid " + uid + ", not root: " + howToRun);
            case SKIP -> Assumptions.abort("skipped: " + howToRun);
        }
    }

    static int uid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** PATH for the commands a root-only test runs, failing with the packages to install. */
    static String toolPath(String packages, String howToRun, String... tools) {
        List<String> dirs = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String tool : tools) {
            Path found = null;
            for (String d : Objects.requireNonNullElse(System.getenv("PATH"), "/usr/bin:/bin").split(File.pathSeparator)) {
                Path p = Path.of(d, tool);
                if (Files.isExecutable(p)) {
                    found = p;
                    break;
                }
            }
            if (found == null) {
                missing.add(tool);
            } else if (!dirs.contains(found.getParent().toString())) {
                dirs.add(found.getParent().toString());
            }
        }
        if (!missing.isEmpty()) {
            fail("missing " + missing + " (Debian packages " + packages + "): " + howToRun);
        }
        dirs.add("/usr/sbin");
        dirs.add("/usr/bin");
        dirs.add("/bin");
        return String.join(":", dirs);
    }
}
