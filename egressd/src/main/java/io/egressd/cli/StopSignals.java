package io.egressd.cli;

import sun.misc.Signal;

/**
 * SIGTERM and SIGINT ask serve to stop, instead of starting the JVM's shutdown at once: serve
 * then drains its connections on its own thread and exits 0 (a JVM stopped by the signal itself
 * exits 143, and System.exit from a shutdown hook would block forever).
 */
final class StopSignals {

    private StopSignals() {
    }

    /**
     * @return false where the JVM does not let us handle them ({@code -Xrs}); the JVM's default applies
     */
    static boolean install(Runnable stop) {
        try {
            // Each handler runs on a thread the JVM starts per signal; stop() only releases a latch.
            Signal.handle(new Signal("TERM"), signal -> stop.run());
            Signal.handle(new Signal("INT"), signal -> stop.run());
            return true;
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            return false;
        }
    }
}
