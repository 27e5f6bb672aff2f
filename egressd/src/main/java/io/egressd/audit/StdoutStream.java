package io.egressd.audit;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;

/**
 * Standard output as the JVM has it ({@link System#out} when the sink opens, so a test or an
 * embedder that redirects it is followed), with its failures turned back into exceptions:
 * a PrintStream swallows them and only remembers, for good, that one happened. So once
 * standard output has failed (a closed pipe), it stays failed until egressd restarts.
 */
final class StdoutStream extends OutputStream {

    private final PrintStream out;

    StdoutStream(PrintStream out) {
        this.out = out;
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
        check();
    }

    @Override
    public void flush() throws IOException {
        check();
    }

    @Override
    public void close() {
        // Standard output belongs to the process; a failure was reported with the line that met it.
        out.flush();
    }

    /** Flushes, and fails if this or any earlier write did. */
    private void check() throws IOException {
        if (out.checkError()) {
            throw new IOException("standard output failed (closed or broken pipe?)");
        }
    }
}
