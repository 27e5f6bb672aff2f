package io.egressd.audit;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.UnsynchronizedAppenderBase;

/**
 * Sits between the async queue and the real output so that the queue's worker, which stops
 * its appenders on a thread it has just interrupted, cannot stop the output: a rolling file
 * stopped that way abandons the gzip of its last rotated file. The sink stops the output itself.
 */
final class Shield extends UnsynchronizedAppenderBase<ILoggingEvent> {

    private final Appender<ILoggingEvent> output;

    Shield(Appender<ILoggingEvent> output) {
        this.output = output;
    }

    @Override
    protected void append(ILoggingEvent event) {
        output.doAppend(event);
    }
}
