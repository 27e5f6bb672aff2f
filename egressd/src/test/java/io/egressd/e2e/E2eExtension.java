package io.egressd.e2e;

import java.util.List;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestWatcher;

/** After a failed test, prints the standard error of every egressd the test class started: its log says why. */
final class E2eExtension implements BeforeAllCallback, TestWatcher {

    @Override
    public void beforeAll(ExtensionContext context) {
        Egressd.STARTED.clear();
    }

    @Override
    public void testFailed(ExtensionContext context, Throwable cause) {
        List<Egressd> daemons;
        synchronized (Egressd.STARTED) {
            daemons = List.copyOf(Egressd.STARTED);
        }
        for (Egressd daemon : daemons) {
            List<String> err = daemon.stderr();
            System.err.println("---- " + daemon + " (" + context.getDisplayName() + "), stderr, last "
                    + Math.min(200, err.size()) + " lines:");
            err.subList(Math.max(0, err.size() - 200), err.size()).forEach(System.err::println);
        }
    }
}
