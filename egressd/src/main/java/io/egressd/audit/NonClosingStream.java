package io.egressd.audit;

import java.io.IOException;
import java.io.OutputStream;

/** Passes writes through and ignores close, so closing the sink leaves a borrowed stream open. */
final class NonClosingStream extends OutputStream {

    private final OutputStream out;

    NonClosingStream(OutputStream out) {
        this.out = out;
    }

    @Override
    public void write(int b) throws IOException {
        out.write(b);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
    }

    @Override
    public void flush() throws IOException {
        out.flush();
    }

    @Override
    public void close() throws IOException {
        out.flush();
    }
}
