import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The benchmark's CONNECT client (bench/run.sh compiles and runs it).
 *
 * <pre>
 * java Tunnels rate PROXY_PORT TARGET_HOST:PORT THREADS WARMUP_S SECONDS
 *     new tunnels per second, each carrying one small request (GET /small, Connection: close);
 *     prints "rate=<tunnels/s> ok=<n> errors=<n>"
 * java Tunnels hold PROXY_PORT TARGET_HOST:PORT COUNT THREADS
 *     opens COUNT tunnels and holds them; prints "held=<n> errors=<n>" once they are open,
 *     then waits until its standard input closes
 * </pre>
 */
public final class Tunnels {

    public static void main(String[] args) throws Exception {
        int proxyPort = Integer.parseInt(args[1]);
        String target = args[2];
        switch (args[0]) {
            case "rate" -> rate(proxyPort, target, Integer.parseInt(args[3]), Integer.parseInt(args[4]),
                    Integer.parseInt(args[5]));
            case "hold" -> hold(proxyPort, target, Integer.parseInt(args[3]), Integer.parseInt(args[4]));
            default -> throw new IllegalArgumentException("rate or hold");
        }
    }

    private static void rate(int proxyPort, String target, int threads, int warmupSeconds, int seconds)
            throws InterruptedException {
        String host = target.substring(0, target.lastIndexOf(':'));
        byte[] request = ("GET /small HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        AtomicLong ok = new AtomicLong();
        AtomicLong errors = new AtomicLong();
        long start = System.nanoTime();
        long measureFrom = start + warmupSeconds * 1_000_000_000L;
        long end = measureFrom + seconds * 1_000_000_000L;
        List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> {
                byte[] buffer = new byte[8192];
                while (true) {
                    long now = System.nanoTime();
                    if (now >= end) {
                        return;
                    }
                    boolean counted = now >= measureFrom;
                    try (Socket s = open(proxyPort, target)) {
                        s.getOutputStream().write(request);
                        String response = readToEnd(s.getInputStream(), buffer);
                        boolean good = response.startsWith("HTTP/1.1 200");
                        if (counted && System.nanoTime() < end) {
                            (good ? ok : errors).incrementAndGet();
                        }
                    } catch (IOException e) {
                        if (counted) {
                            errors.incrementAndGet();
                        }
                    }
                }
            });
            t.start();
            workers.add(t);
        }
        for (Thread t : workers) {
            t.join();
        }
        System.out.printf("rate=%.1f ok=%d errors=%d%n", ok.get() / (double) seconds, ok.get(), errors.get());
    }

    private static void hold(int proxyPort, String target, int count, int threads) throws Exception {
        List<Socket> held = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger next = new AtomicInteger();
        AtomicInteger errors = new AtomicInteger();
        List<Thread> workers = new ArrayList<>();
        for (int i = 0; i < threads; i++) {
            Thread t = new Thread(() -> {
                while (next.getAndIncrement() < count) {
                    try {
                        held.add(open(proxyPort, target));
                    } catch (IOException e) {
                        errors.incrementAndGet();
                    }
                }
            });
            t.start();
            workers.add(t);
        }
        for (Thread t : workers) {
            t.join();
        }
        System.out.printf("held=%d errors=%d%n", held.size(), errors.get());
        System.out.flush();
        // Hold until bench/run.sh has measured and closes our standard input.
        while (System.in.read() >= 0) {
            // drain
        }
        for (Socket s : held) {
            s.close();
        }
    }

    /** A socket through which the proxy has answered CONNECT with 200. */
    private static Socket open(int proxyPort, String target) throws IOException {
        Socket s = new Socket();
        try {
            s.setTcpNoDelay(true);
            s.connect(new InetSocketAddress("127.0.0.1", proxyPort), 10_000);
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write(("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String head = readHead(s.getInputStream());
            if (!head.startsWith("HTTP/1.1 200") && !head.startsWith("HTTP/1.0 200")) {
                throw new IOException("CONNECT refused: " + head.lines().findFirst().orElse(""));
            }
            return s;
        } catch (IOException e) {
            s.close();
            throw e;
        }
    }

    /** Reads byte by byte up to the blank line, so no tunnel byte is consumed. */
    private static String readHead(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            head.append((char) c);
            int n = head.length();
            if (n >= 4 && head.charAt(n - 4) == '\r' && head.charAt(n - 3) == '\n'
                    && head.charAt(n - 2) == '\r' && head.charAt(n - 1) == '\n') {
                return head.toString();
            }
        }
        throw new IOException("connection closed in the response head");
    }

    private static String readToEnd(InputStream in, byte[] buffer) throws IOException {
        StringBuilder text = new StringBuilder();
        int n;
        while ((n = in.read(buffer)) >= 0) {
            if (text.length() < 64) {
                text.append(new String(buffer, 0, n, StandardCharsets.ISO_8859_1));
            }
        }
        return text.toString();
    }
}
