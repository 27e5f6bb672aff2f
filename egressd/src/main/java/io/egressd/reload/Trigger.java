package io.egressd.reload;

import java.util.Locale;

/** What started a policy load. */
public enum Trigger {
    /** The load before serving; its failure stops the daemon. */
    STARTUP,
    /** A change in the allowlists directory (watch event or poll). */
    FILE,
    /** SIGHUP. */
    SIGNAL;

    public String code() {
        return name().toLowerCase(Locale.ROOT);
    }
}
