package io.egressd.proxy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;

/** Upstreams that never accept, for connect timeouts on loopback. */
final class FullBacklog {

    private FullBacklog() {
    }

    /**
     * A listener whose accept queue is full: it never accepts, so a further connection attempt
     * gets no answer at all and times out, on loopback. The connections that fill the queue go
     * into {@code fillers}, for the caller to close.
     */
    static ServerSocket listener(List<Socket> fillers) throws IOException {
        ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        for (int i = 0; i < 8; i++) {
            Socket filler = new Socket();
            try {
                filler.connect(server.getLocalSocketAddress(), 300);
                fillers.add(filler);
            } catch (IOException timedOut) {
                filler.close();
                return server; // the queue is full
            }
        }
        throw new IllegalStateException("could not fill the accept queue");
    }
}
