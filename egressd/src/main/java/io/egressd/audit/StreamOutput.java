package io.egressd.audit;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import java.io.IOException;

/** A stream output (standard output, or a stream given by the embedder) whose failures reach the writer. */
final class StreamOutput extends OutputStreamAppender<ILoggingEvent> implements LineOutput {

    @Override
    public void writeLine(ILoggingEvent event) throws IOException {
        LineOutput.append(() -> subAppend(event));
    }

    @Override
    protected void subAppend(ILoggingEvent event) {
        super.subAppend(event);
    }

    @Override
    protected void writeOut(ILoggingEvent event) throws IOException {
        try {
            super.writeOut(event);
        } catch (IOException e) {
            // Unchecked past subAppend's catch, which would stop this appender for good.
            throw new WriteFailed(e);
        }
    }
}
