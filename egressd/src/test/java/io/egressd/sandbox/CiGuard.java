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
 * The guard of the tests that need what a developer's machine may lack (root for network and
 * mount namespaces, kubectl): CI runs as root with {@code CI=true} and has the tools, so there
 * they must run, and a CI that cannot run them fails; elsewhere they are skipped with a message
 * that says how to run them.
 */
public final class CiGuard {

    /** What such a test does on this machine. */
    enum Decision { RUN, FAIL, SKIP }

    private CiGuard() {
    }

    /** {@code ci}: the value of the CI variable (null when unset); {@code canRun}: root, the tool, .... */
    static Decision decide(String ci, boolean canRun) {
        if (canRun) {
            return Decision.RUN;
        }
        return "true".equalsIgnoreCase(ci) ? Decision.FAIL : Decision.SKIP;
    }

    /** {@code uid}: the JVM's user; only root can run. */
    static Decision decide(String ci, int uid) {
        return decide(ci, uid == 0);
    }

    /** Returns when {@code canRun}; else fails (CI) or aborts the test with {@code why} and how to run it. */
    static void require(boolean canRun, String why, String howToRun) {
        switch (decide(System.getenv("CI"), canRun)) {
            case RUN -> { }
            case FAIL -> fail("CI=true but " + why + ": " + howToRun);
            case SKIP -> Assumptions.abort("skipped: " + why + ": " + howToRun);
        }
    }

    /** Returns when this JVM runs as root; else fails (CI) or aborts the test. */
    public static void requireRoot(String howToRun) {
        int uid = uid();
        require(uid == 0, "this JVM runs as uid " + uid + ", not root", howToRun);
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
