package io.egressd.audit;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Marker;
import org.slf4j.MarkerFactory;

/**
 * Sits between the async queue and the real output. It writes each line and tells
 * {@link AuditHealth} how that went: a failed line is retried (with {@code audit.on_failure:
 * refuse}, until it is written, while the daemon refuses egress) or dropped and counted (with
 * {@code continue}, so that the queue never backs up into the fronts).
 *
 * <p>It also shields the output from the queue's shutdown. The queue's worker stops its
 * appenders on a thread it has just interrupted (a rolling file stopped that way abandons
 * the gzip of its last rotated file), so the sink stops the output itself. And the worker is
 * interrupted while it may still be writing (an interruptible stream then fails the line), so
 * the sink first sends a {@link #FLUSH} event through the queue and waits for it to arrive
 * here: every line before it has been written, and the worker is idle when interrupted.
 */
final class Shield extends UnsynchronizedAppenderBase<ILoggingEvent> {

    static final Marker FLUSH = MarkerFactory.getDetachedMarker("egressd-audit-flush");

    /** Retry pauses for a failing output: short first, so that a brief fault costs little. */
    private static final long FIRST_RETRY_MILLIS = 100;
    private static final long MAX_RETRY_MILLIS = 1000;

    private final LineOutput output;
    private final AuditHealth health;
    private final CountDownLatch flushed = new CountDownLatch(1);
    /** Set when the sink closes: a line that still fails then is given up, so that shutdown ends. */
    private volatile boolean closing;

    Shield(LineOutput output, AuditHealth health) {
        this.output = output;
        this.health = health;
    }

    @Override
    protected void append(ILoggingEvent event) {
        List<Marker> markers = event.getMarkerList();
        if (markers != null && markers.contains(FLUSH)) {
            flushed.countDown();
            return;
        }
        long pause = FIRST_RETRY_MILLIS;
        while (true) {
            try {
                output.writeLine(event);
                health.wrote();
                return;
            } catch (IOException | RuntimeException e) {
                health.failed(e instanceof IOException io ? io : new IOException(e.toString(), e));
                if (!health.refusesOnFailure() || closing || !pause(pause)) {
                    health.lost(closing ? event.getMessage() : null);
                    return;
                }
                pause = Math.min(MAX_RETRY_MILLIS, pause * 2);
            }
        }
    }

    /** Sleeps before a retry; false when interrupted (the queue is stopping). */
    private boolean pause(long millis) {
        try {
            Thread.sleep(millis);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** From now on a failing line is tried once more and then given up. */
    void closing() {
        closing = true;
    }

    /** Waits until the FLUSH event has come through; an interrupt does not cut the wait short. */
    void awaitFlush() {
        boolean interrupted = false;
        while (true) {
            try {
                flushed.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
