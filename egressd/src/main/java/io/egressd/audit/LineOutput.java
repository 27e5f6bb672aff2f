package io.egressd.audit;

import ch.qos.logback.classic.spi.ILoggingEvent;
import java.io.IOException;
import java.io.OutputStream;

/**
 * The audit output as the batch writer needs it: lines go into a batch ({@link BatchStream})
 * and out with one {@link #flush()}, which either succeeds or fails with the reason. Logback's
 * own appenders do neither: an output stream appender stops for good at its first I/O error,
 * and a file appender drops lines silently while it retries in the background.
 */
interface LineOutput {

    /** The appender's stream: a {@link BatchStream}, or null once closed (or a file could not be opened). */
    OutputStream getOutputStream();

    /**
     * Starts a batch: drops whatever a failed batch left unflushed (the writer writes those lines
     * again or gives them up). {@link FileOutput} also reopens a file that was moved or removed.
     */
    default void beginBatch() throws IOException {
        if (getOutputStream() instanceof BatchStream batch) {
            batch.discard();
        }
    }

    /** Adds one line to the batch, or throws; the output stays usable for the next attempt. */
    void writeLine(ILoggingEvent event) throws IOException;

    /**
     * Whether the last {@link #writeLine}, succeeding or not, flushed the lines added before its
     * own (a rotation closes the file they belong to): those are written.
     */
    default boolean flushedBeforeLastLine() {
        return false;
    }

    /** Sends the batch out; when this throws, none of its lines counts as written. */
    default void flush() throws IOException {
        OutputStream out = getOutputStream();
        if (out == null) {
            throw new IOException("audit output is closed");
        }
        out.flush();
    }

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
