package io.egressd.proxy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An upstream the test owns on a loopback address: it counts every connection it accepts
 * (so a test can show a refused request never reached it) and answers each HTTP request
 * with {@code hello from <name>}, keeping the request heads it saw.
 */
final class CountingHttpServer implements AutoCloseable {

    private final ServerSocket socket;
    private final String name;
    private final AtomicInteger accepts = new AtomicInteger();
    final List<String> requestHeads = new CopyOnWriteArrayList<>();

    CountingHttpServer(String bindAddress, int port, String name) throws IOException {
        this.name = name;
        this.socket = new ServerSocket();
        socket.bind(new InetSocketAddress(InetAddress.getByName(bindAddress), port), 50);
        Thread acceptor = new Thread(this::acceptLoop, "upstream-" + name);
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return socket.getLocalPort();
    }

    int accepts() {
        return accepts.get();
    }

    String body() {
        return "hello from " + name;
    }

    private void acceptLoop() {
        while (!socket.isClosed()) {
            try {
                Socket s = socket.accept();
                accepts.incrementAndGet();
                Thread t = new Thread(() -> serve(s), "upstream-" + name + "-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        try (s) {
            s.setSoTimeout(10_000);
            InputStream in = s.getInputStream();
            OutputStream out = s.getOutputStream();
            String head = readHead(in);
            if (head == null) {
                return;
            }
            requestHeads.add(head);
            byte[] body = body().getBytes(StandardCharsets.UTF_8);
            out.write(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + body.length
                    + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
        } catch (IOException e) {
            // The client went away; nothing to count.
        }
    }

    static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int matched = 0;
        int b;
        while ((b = in.read()) >= 0) {
            head.write(b);
            if ((b == '\r' && (matched == 0 || matched == 2)) || (b == '\n' && (matched == 1 || matched == 3))) {
                matched++;
            } else {
                matched = b == '\r' ? 1 : 0;
            }
            if (matched == 4) {
                return head.toString(StandardCharsets.ISO_8859_1);
            }
        }
        return head.size() == 0 ? null : head.toString(StandardCharsets.ISO_8859_1);
    }

    @Override
    public void close() {
        try {
            socket.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
