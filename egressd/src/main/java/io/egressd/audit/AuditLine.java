package io.egressd.audit;

import ch.qos.logback.classic.spi.LoggingEvent;

/**
 * One audit line as logback's appenders take it. Only the message is read (by
 * {@link LineEncoder}); the rolling policy looks at the clock, not at the event. Nothing is
 * copied for later (no thread name, no MDC): the line is written on the thread that made it.
 */
final class AuditLine extends LoggingEvent {

    AuditLine(String line) {
        setMessage(line);
    }

    @Override
    public void prepareForDeferredProcessing() {
        // Nothing to capture: the event never leaves the writer thread.
    }
}
