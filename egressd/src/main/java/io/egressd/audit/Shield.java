package io.egressd.audit;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.UnsynchronizedAppenderBase;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Marker;
import org.slf4j.MarkerFactory;

/**
 * Sits between the async queue and the real output, for two reasons. The queue's worker stops
 * its appenders on a thread it has just interrupted (a rolling file stopped that way abandons
 * the gzip of its last rotated file), so the sink stops the output itself. And the worker is
 * interrupted while it may still be writing (an interruptible stream then fails the line), so
 * the sink first sends a {@link #FLUSH} event through the queue and waits for it to arrive
 * here: every line before it has been written, and the worker is idle when interrupted.
 */
final class Shield extends UnsynchronizedAppenderBase<ILoggingEvent> {

    static final Marker FLUSH = MarkerFactory.getDetachedMarker("egressd-audit-flush");

    private final Appender<ILoggingEvent> output;
    private final CountDownLatch flushed = new CountDownLatch(1);

    Shield(Appender<ILoggingEvent> output) {
        this.output = output;
    }

    @Override
    protected void append(ILoggingEvent event) {
        List<Marker> markers = event.getMarkerList();
        if (markers != null && markers.contains(FLUSH)) {
            flushed.countDown();
            return;
        }
        output.doAppend(event);
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
