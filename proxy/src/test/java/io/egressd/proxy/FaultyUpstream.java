package io.egressd.proxy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An upstream on 127.0.0.1 that misbehaves the way the test says: each accepted connection is
 * handed to a {@link Fault}. It keeps every socket it accepted until it is closed, so a fault that
 * "never answers" really holds the connection open.
 */
final class FaultyUpstream implements AutoCloseable {

    /** What one accepted connection does. */
    @FunctionalInterface
    interface Fault {
        void serve(Socket socket) throws IOException, InterruptedException;
    }

    /** The bytes a faulty upstream sends before it resets, so a client can tell how far it got. */
    static final int PARTIAL = 1000;
    /** What the upstream promises, and never delivers, in a Content-Length. */
    static final int PROMISED = 100_000;

    private final ServerSocket server;
    private final Fault fault;
    private final List<Socket> held = new CopyOnWriteArrayList<>();
    private final AtomicInteger accepts = new AtomicInteger();

    FaultyUpstream(Fault fault) throws IOException {
        this.fault = fault;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread acceptor = new Thread(this::acceptLoop, "faulty-upstream");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return server.getLocalPort();
    }

    int accepts() {
        return accepts.get();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                accepts.incrementAndGet();
                held.add(s);
                Thread t = new Thread(() -> {
                    try {
                        fault.serve(s);
                    } catch (IOException | InterruptedException e) {
                        // the proxy went away first
                    }
                }, "faulty-upstream-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    /** Reads an HTTP head, answers 200 with a Content-Length of {@link #PROMISED}, sends part of it, resets. */
    static void resetMidBody(Socket s) throws IOException, InterruptedException {
        CountingHttpServer.readHead(s.getInputStream());
        send(s, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: " + PROMISED
                + "\r\n\r\n" + "x".repeat(PARTIAL));
        reset(s);
    }

    /** Reads an HTTP head, answers 200 chunked, sends one chunk, resets before the last chunk. */
    static void resetMidChunks(Socket s) throws IOException, InterruptedException {
        CountingHttpServer.readHead(s.getInputStream());
        send(s, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                + Integer.toHexString(PARTIAL) + "\r\n" + "x".repeat(PARTIAL) + "\r\n");
        reset(s);
    }

    /** Raw bytes (a tunnel, SOCKS5, a forward): reads something, sends {@link #PARTIAL} bytes, resets. */
    static void resetMidStream(Socket s) throws IOException, InterruptedException {
        s.getInputStream().read();
        send(s, "x".repeat(PARTIAL));
        reset(s);
    }

    /** Not a fault: raw bytes, as {@link #resetMidStream}, but an orderly close (FIN) after them. */
    static void closeMidStream(Socket s) throws IOException, InterruptedException {
        s.getInputStream().read();
        send(s, "x".repeat(PARTIAL));
        s.close();
    }

    /**
     * Echoes the first byte (so the client knows the whole path is up), then reads everything and
     * records how the stream ended: {@code "reset"} or {@code "eof"}.
     */
    static Fault recordingEnd(BlockingQueue<String> endings) {
        return s -> {
            InputStream in = s.getInputStream();
            try {
                s.getOutputStream().write(in.read());
                s.getOutputStream().flush();
                while (in.read() >= 0) {
                    // swallow
                }
                endings.add("eof");
            } catch (SocketException e) {
                endings.add("reset");
            }
            s.close();
        };
    }

    /** Reads an HTTP head and closes (FIN) without a word. */
    static void closeUnanswered(Socket s) throws IOException {
        CountingHttpServer.readHead(s.getInputStream());
        s.close();
    }

    /** Not a fault: answers 200 with {@link #PROMISED} bytes of body that only the close ends (no length, no chunks). */
    static void bodyEndsAtClose(Socket s) throws IOException {
        CountingHttpServer.readHead(s.getInputStream());
        OutputStream out = s.getOutputStream();
        out.write("HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n"
                .getBytes(StandardCharsets.ISO_8859_1));
        out.write("y".repeat(PROMISED).getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        s.close();
    }

    /** Reads whatever comes and never answers; the connection stays open until the proxy closes it. */
    static void silent(Socket s) throws IOException {
        InputStream in = s.getInputStream();
        while (in.read() >= 0) {
            // swallow
        }
        s.close();
    }

    private static void send(Socket s, String text) throws IOException, InterruptedException {
        OutputStream out = s.getOutputStream();
        out.write(text.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        Thread.sleep(200); // let the proxy relay these bytes before the reset discards what is unread
    }

    /** Closes with SO_LINGER 0: an RST, not a FIN. */
    private static void reset(Socket s) throws IOException {
        s.setSoLinger(true, 0);
        s.close();
    }

    @Override
    public void close() throws IOException {
        server.close();
        for (Socket s : held) {
            s.close();
        }
    }
}
