package io.egressd.reload;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sun.misc.Signal;
import sun.misc.SignalHandler;

/** SIGHUP reloads the policy, as daemons do; it also replaces the JVM's default of exiting on SIGHUP. */
public final class SighupTrigger {

    private static final Logger LOG = LoggerFactory.getLogger(SighupTrigger.class);

    private SighupTrigger() {
    }

    /**
     * Makes SIGHUP call {@link PolicyReloader#reload(Trigger)}.
     *
     * @return false where the JVM does not let us handle SIGHUP (Windows, {@code -Xrs}, or SIGHUP
     *         ignored when the process started, as under {@code nohup})
     */
    public static boolean install(PolicyReloader reloader) {
        try {
            // The handler runs on a thread the JVM starts per signal; reload() only queues the work.
            SignalHandler before = Signal.handle(new Signal("HUP"), signal -> reloader.reload(Trigger.SIGNAL));
            if (before == SignalHandler.SIG_IGN) {
                // HotSpot keeps a shutdown signal that was ignored at start ignored, and says so only this way.
                LOG.warn("SIGHUP is ignored in this process (started under nohup?): it cannot reload the policy; "
                        + "changes to the allowlists directory still do");
                return false;
            }
            return true;
        } catch (IllegalArgumentException | UnsupportedOperationException e) {
            LOG.warn("SIGHUP cannot reload the policy here: {}", e.getMessage());
            return false;
        }
    }
}
