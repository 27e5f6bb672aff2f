package io.egressd.audit;

import ch.qos.logback.classic.spi.ILoggingEvent;
import java.io.IOException;

/**
 * The audit output as the writer needs it: a line either is written or fails with the reason.
 * Logback's own appenders do neither: an output stream appender stops for good at its first
 * I/O error, and a file appender drops lines silently while it retries in the background.
 */
interface LineOutput {

    /** Writes one line, whole, or throws; the output stays usable for the next attempt. */
    void writeLine(ILoggingEvent event) throws IOException;

    /** Runs logback's write path for one line ({@code subAppend}), with its failure as an exception again. */
    static void append(Runnable subAppend) throws IOException {
        try {
            subAppend.run();
        } catch (WriteFailed e) {
            throw e.getCause();
        }
    }

    /** Carries an I/O failure out of logback's write path, which would otherwise swallow it. */
    final class WriteFailed extends RuntimeException {

        WriteFailed(IOException cause) {
            super(cause);
        }

        @Override
        public synchronized IOException getCause() {
            return (IOException) super.getCause();
        }
    }
}
