package io.egressd.reload;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;

/** SIGHUP reloads the policy, as daemons do; it also replaces the JVM's default of exiting on SIGHUP. */
public final class SighupTrigger {

    private static final Logger LOG = LoggerFactory.getLogger(SighupTrigger.class);

    private SighupTrigger() {
    }

    /**
     * Makes SIGHUP call {@link PolicyReloader#reload(Trigger)}.
     *
     * @return false where the JVM does not let us handle SIGHUP (Windows, {@code -Xrs})
     */
    public static boolean install(PolicyReloader reloader) {
        try {
            // The handler runs on a thread the JVM starts per signal; reload() only queues the work.
            Signal.handle(new Signal("HUP"), signal -> reloader.reload(Trigger.SIGNAL));
            return true;
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            LOG.warn("SIGHUP cannot reload the policy here: {}", e.getMessage());
            return false;
        }
    }
}
