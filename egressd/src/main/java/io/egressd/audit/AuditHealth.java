package io.egressd.audit;

import java.io.IOException;
import java.io.PrintStream;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Whether the audit output is being written, as the last write found it. The audit writer
 * reports each outcome; the daemon reads {@link #healthy()} before letting egress through, and
 * the metrics read the counts. Each change of state is said once on stderr.
 */
public final class AuditHealth {

    private final boolean refuse;
    private final PrintStream err;
    private final AtomicLong failedWrites = new AtomicLong();
    private final AtomicLong lostLines = new AtomicLong();
    private volatile boolean healthy = true;

    /**
     * @param refuse {@code audit.on_failure: refuse}: a failed line is retried until it is written
     *               (egress is refused meanwhile); false: it is dropped and counted as lost
     * @param err    where the changes of state are said
     */
    public AuditHealth(boolean refuse, PrintStream err) {
        this.refuse = refuse;
        this.err = err;
    }

    public boolean healthy() {
        return healthy;
    }

    /** Whether egress is refused while the output fails ({@code audit.on_failure: refuse}). */
    public boolean refusesOnFailure() {
        return refuse;
    }

    /** Line writes that failed (a line retried three times counts three; a failed batch, one per line in it). */
    public long failedWrites() {
        return failedWrites.get();
    }

    /** Lines given up: with {@code continue}, every failed line; with {@code refuse}, those still failing at shutdown. */
    public long lostLines() {
        return lostLines.get();
    }

    void wrote() {
        if (!healthy) {
            recovered();
        }
    }

    /** {@code lines} lines were not written (a batch whose write or flush failed, or one line tried again). */
    void failed(IOException e, int lines) {
        failedWrites.addAndGet(lines);
        if (healthy) {
            broke(e);
        }
    }

    /** A line was given up; at shutdown it is printed on stderr, the last place left to keep it. */
    void lost(String lineAtShutdown) {
        lostLines.incrementAndGet();
        if (lineAtShutdown != null) {
            err.println("egressd: audit line lost at shutdown: " + lineAtShutdown);
            err.flush();
        }
    }

    private synchronized void broke(IOException e) {
        if (healthy) {
            healthy = false;
            err.println("egressd: audit output cannot be written (" + e.getMessage() + "); "
                    + (refuse ? "refusing new connections and DNS queries until it can (audit.on_failure: refuse)"
                    : "still serving, audit lines are lost meanwhile (audit.on_failure: continue)"));
            err.flush();
        }
    }

    private synchronized void recovered() {
        if (!healthy) {
            healthy = true;
            err.println("egressd: audit output written again after " + failedWrites.get() + " failed writes"
                    + (refuse ? "; serving again" : "") + " (" + lostLines.get() + " lines lost in all)");
            err.flush();
        }
    }
}
