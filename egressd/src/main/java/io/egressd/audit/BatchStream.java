package io.egressd.audit;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Arrays;

/**
 * Holds the lines of a batch in memory until {@link #flush()} hands them to the real output in
 * one write. Unlike a {@link java.io.BufferedOutputStream} it never writes on its own (so the
 * writer knows which lines reached the output: those before the last successful flush), and a
 * failed flush drops what it held (the writer writes those lines again, or gives them up).
 */
final class BatchStream extends OutputStream {

    private final OutputStream out;
    private byte[] buf = new byte[8192];
    private int count;

    BatchStream(OutputStream out) {
        this.out = out;
    }

    @Override
    public void write(int b) {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) {
        if (count + len > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, count + len));
        }
        System.arraycopy(b, off, buf, count, len);
        count += len;
    }

    /** Writes what is held and flushes the output; held bytes are dropped whether that succeeds or not. */
    @Override
    public void flush() throws IOException {
        try {
            if (count > 0) {
                out.write(buf, 0, count);
            }
            out.flush();
        } finally {
            count = 0;
        }
    }

    /** Drops what is held: lines of a batch that failed before its flush, which the writer handles again. */
    void discard() {
        count = 0;
    }

    @Override
    public void close() throws IOException {
        try {
            flush();
        } finally {
            out.close();
        }
    }
}
