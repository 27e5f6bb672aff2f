package io.egressd.audit;

import ch.qos.logback.core.status.Status;
import ch.qos.logback.core.status.StatusListener;

/** Prints logback's own warnings and errors about the audit output (disk full, rotation failed) to stderr. */
final class WarningsToStderr implements StatusListener {

    @Override
    public void addStatusEvent(Status status) {
        if (status.getEffectiveLevel() >= Status.WARN) {
            System.err.println("egressd audit: " + status);
        }
    }
}
