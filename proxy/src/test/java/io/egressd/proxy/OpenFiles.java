package io.egressd.proxy;

import static org.awaitility.Awaitility.await;

import java.io.File;
import java.time.Duration;
import java.util.function.IntSupplier;

/**
 * Counts this process's file descriptors (/proc/self/fd: the proxy runs in the test's JVM), to
 * show that a fault leaves nothing open behind it.
 */
final class OpenFiles {

    private OpenFiles() {
    }

    static int count() {
        String[] fds = new File("/proc/self/fd").list();
        if (fds == null) {
            throw new IllegalStateException("no /proc/self/fd: these tests need Linux");
        }
        return fds.length;
    }

    /**
     * The count once the proxy is idle ({@code openConnections} 0) and the count has held still for
     * half a second, so that connections still closing from the warm-up do not inflate it.
     */
    static int settledBaseline(IntSupplier openConnections) {
        int[] last = {-1};
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(250)).until(() -> {
            int now = count();
            boolean still = now == last[0] && openConnections.getAsInt() == 0;
            last[0] = now;
            return still;
        });
        return last[0];
    }

    /** Waits (up to 10s, for closes in flight) until the count is back to at most {@code baseline}. */
    static void awaitAtMost(int baseline, String after) {
        await().alias("file descriptors back to " + baseline + " after " + after)
                .atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(100))
                .until(() -> count() <= baseline);
    }
}
