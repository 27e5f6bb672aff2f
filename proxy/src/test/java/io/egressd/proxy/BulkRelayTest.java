package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bulk transfers through {@link Splice}: 64 MiB each way through an HTTP CONNECT tunnel and
 * through SOCKS5, and one way through a TCP forward, arriving whole (count and CRC-32) and
 * audited with exactly those bytes. The
 * reading end pauses a few times early on, so that egressd's side towards it fills, stops the
 * other side's reads and drains again; then it reads as fast as it can, so that a flush can
 * drain a full channel at once. A relay that stops reading for good (as Splice did when it
 * turned reading off after such a flush) fails here as "no byte for 15 s", not at the 5-minute
 * idle timeout.
 */
class BulkRelayTest {

    static final int MIB = 1 << 20;
    static final int BLOCKS = 64;
    static final long TOTAL = (long) BLOCKS * MIB;
    /** Random bytes, sent {@link #BLOCKS} times over. */
    static final byte[] BLOCK = new byte[MIB];
    static final long CRC;
    /** No byte for this long: the relay has stalled (the transfer takes about a second). */
    static final int STALL_MILLIS = 15_000;

    static {
        new Random(1928).nextBytes(BLOCK);
        CRC32 crc = new CRC32();
        for (int i = 0; i < BLOCKS; i++) {
            crc.update(BLOCK);
        }
        CRC = crc.getValue();
    }

    @TempDir
    Path dir;

    private final RecordingListener listener = new RecordingListener();
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final Upstream upstream = new Upstream();
    private SocksProxy socks;
    private TcpForwards forwards;
    private ProxyFixture http;

    BulkRelayTest() throws IOException {
    }

    @AfterEach
    void stop() throws IOException {
        // Closing the sockets unblocks a writer a stalled relay left waiting.
        upstream.close();
        threads.shutdownNow();
        if (socks != null) {
            socks.close();
        }
        if (forwards != null) {
            forwards.close();
        }
        if (http != null) {
            http.close();
        }
    }

    @Test
    @Timeout(60)
    void aConnectTunnelCarriesALargeDownloadWholeToAReaderThatPausesThenRacesAhead() throws Exception {
        Future<Void> sent = upstream.send(threads);
        try (Socket s = connectTunnel()) {
            assertWhole(Tally.read(s.getInputStream(), "the CONNECT client"));
        }
        within(sent, STALL_MILLIS);
        assertAudited(http.listener, Protocol.CONNECT, 0, TOTAL);
    }

    @Test
    @Timeout(60)
    void aConnectTunnelCarriesALargeUploadWholeToAnUpstreamThatPausesThenRacesAhead() throws Exception {
        Future<Tally> received = upstream.receive(threads);
        try (Socket s = connectTunnel()) {
            Future<Void> sent = threads.submit(() -> {
                writeAll(s.getOutputStream());
                s.shutdownOutput();
                return null;
            });
            assertWhole(within(received, STALL_MILLIS * 3L));
            within(sent, STALL_MILLIS);
        }
        assertAudited(http.listener, Protocol.CONNECT, TOTAL, 0);
    }

    @Test
    @Timeout(60)
    void aSocks5StreamCarriesALargeDownloadWholeToAReaderThatPausesThenRacesAhead() throws Exception {
        Future<Void> sent = upstream.send(threads);
        try (SocksClient c = socksConnect()) {
            assertWhole(Tally.read(c.in(), "the SOCKS5 client"));
        }
        within(sent, STALL_MILLIS);
        assertAudited(listener, Protocol.SOCKS5, 0, TOTAL);
    }

    @Test
    @Timeout(60)
    void aSocks5StreamCarriesALargeUploadWholeToAnUpstreamThatPausesThenRacesAhead() throws Exception {
        Future<Tally> received = upstream.receive(threads);
        try (SocksClient c = socksConnect()) {
            Future<Void> sent = threads.submit(() -> {
                writeAll(c.out());
                c.socket.shutdownOutput();
                return null;
            });
            assertWhole(within(received, STALL_MILLIS * 3L));
            within(sent, STALL_MILLIS);
        }
        assertAudited(listener, Protocol.SOCKS5, TOTAL, 0);
    }

    @Test
    @Timeout(60)
    void aTcpForwardCarriesALargeDownloadWholeToAReaderThatPausesThenRacesAhead() throws Exception {
        Policy policy = TcpForwardsTest.forwardTo(Files.createDirectories(dir.resolve("allowlists")),
                TcpForwardsTest.freePort(), upstream.port());
        forwards = TcpForwards.start(policy.forwards(), SocksProxyTest.settings(), () -> policy, listener,
                new LoopbackResolver(), new TestNetwork());
        Future<Void> sent = upstream.send(threads);
        try (Socket s = new Socket()) {
            s.connect(forwards.addresses().get(0), 5000);
            s.setSoTimeout(STALL_MILLIS);
            assertWhole(Tally.read(s.getInputStream(), "the forward's client"));
        }
        within(sent, STALL_MILLIS);
        assertAudited(listener, Protocol.TCP, 0, TOTAL);
    }

    /** A SOCKS5 proxy allowing bulk.test on the upstream's port, and a client connected through it. */
    private SocksClient socksConnect() throws IOException {
        int port = upstream.port();
        Policy policy = Allowlist.load(dir, Allowlist.server("app").credentials("app", "app-token")
                .host("bulk.test", port).cidr("127.0.0.1/32", port));
        socks = SocksProxy.start(SocksProxyTest.settings(), () -> policy, listener,
                new LoopbackResolver().answer("bulk.test", "127.0.0.1"), null, new TestNetwork());
        SocksClient c = new SocksClient(socks.boundAddress());
        assertThat(c.greet(SocksClient.PASSWORD)).isEqualTo(SocksClient.PASSWORD);
        assertThat(c.login("app", "app-token")).isZero();
        assertThat(c.requestName(SocksClient.CONNECT, "bulk.test", port)).isZero();
        c.socket.setSoTimeout(STALL_MILLIS);
        return c;
    }

    /**
     * An HTTP proxy allowing bulk.test on the upstream's port, and a raw client whose CONNECT it
     * answered 200: from there on the socket carries the tunnel's bytes.
     */
    private Socket connectTunnel() throws IOException {
        int port = upstream.port();
        Policy policy = Allowlist.load(dir, Allowlist.server("app").credentials("app", "app-token")
                .host("bulk.test", port).cidr("127.0.0.1/32", port));
        http = new ProxyFixture(policy, new LoopbackResolver().answer("bulk.test", "127.0.0.1"));
        Socket s = new Socket();
        s.connect(http.address(), 5000);
        s.setSoTimeout(STALL_MILLIS);
        String credentials = Base64.getEncoder().encodeToString("app:app-token".getBytes(
                StandardCharsets.US_ASCII));
        s.getOutputStream().write(("CONNECT bulk.test:" + port + " HTTP/1.1\r\nHost: bulk.test:" + port
                + "\r\nProxy-Authorization: Basic " + credentials + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        // The head, byte by byte, so that no tunnel byte after it is read here.
        StringBuilder head = new StringBuilder();
        InputStream in = s.getInputStream();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int b = in.read();
            assertThat(b).as("the answer to the CONNECT so far: %s", head).isNotNegative();
            head.append((char) b);
        }
        assertThat(head.toString()).startsWith("HTTP/1.1 200 ");
        return s;
    }

    /** What {@code task} returned; an assertion it failed is thrown as itself. */
    private static <T> T within(Future<T> task, long millis) throws Exception {
        try {
            return task.get(millis, TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof AssertionError failed) {
                throw failed;
            }
            throw e;
        }
    }

    private static void writeAll(OutputStream out) throws IOException {
        for (int i = 0; i < BLOCKS; i++) {
            out.write(BLOCK);
        }
        out.flush();
    }

    private static void assertWhole(Tally tally) {
        assertThat(tally.bytes()).as("bytes that arrived").isEqualTo(TOTAL);
        assertThat(tally.crc()).as("CRC-32 of the bytes that arrived").isEqualTo(CRC);
    }

    /** The stream's close is reported once, with the bytes each way as they were moved. */
    private static void assertAudited(RecordingListener listener, Protocol protocol, long sent, long received) {
        await().atMost(Duration.ofSeconds(5)).until(() -> !listener.closed.isEmpty());
        assertThat(listener.closed).singleElement().satisfies(closed -> {
            assertThat(closed.protocol()).isEqualTo(protocol);
            assertThat(closed.decision().allowed()).isTrue();
            assertThat(closed.bytesSent()).as("bytes client to upstream").isEqualTo(sent);
            assertThat(closed.bytesReceived()).as("bytes upstream to client").isEqualTo(received);
        });
    }

    /** What a reader got: the byte count and their CRC-32. */
    record Tally(long bytes, long crc) {

        static final int PAUSES = 3;
        static final long PAUSE_MILLIS = 200;

        /**
         * Reads to the end of the stream, pausing {@value #PAUSES} times in the first few MiB, then
         * as fast as it can.
         */
        static Tally read(InputStream in, String who) throws IOException {
            CRC32 crc = new CRC32();
            byte[] buffer = new byte[64 * 1024];
            long bytes = 0;
            int pauses = 0;
            try {
                for (int n; (n = in.read(buffer)) >= 0; ) {
                    crc.update(buffer, 0, n);
                    bytes += n;
                    if (pauses < PAUSES && bytes >= (long) pauses * MIB) {
                        pauses++;
                        Thread.sleep(PAUSE_MILLIS);
                    }
                }
            } catch (SocketTimeoutException e) {
                throw new AssertionError(who + " got no byte for " + STALL_MILLIS + " ms after " + bytes + " of "
                        + TOTAL + " bytes: the relay stalled", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
            return new Tally(bytes, crc.getValue());
        }
    }

    /** A loopback upstream for one connection: it sends 64 MiB as fast as it can and closes, or reads to the end. */
    static final class Upstream implements AutoCloseable {

        private final ServerSocket server = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"));
        private volatile Socket accepted;

        Upstream() throws IOException {
        }

        int port() {
            return server.getLocalPort();
        }

        Future<Void> send(ExecutorService threads) {
            return threads.submit(() -> {
                try (Socket s = accept()) {
                    writeAll(s.getOutputStream());
                }
                return null;
            });
        }

        Future<Tally> receive(ExecutorService threads) {
            return threads.submit(() -> {
                try (Socket s = accept()) {
                    return Tally.read(s.getInputStream(), "the upstream");
                }
            });
        }

        private Socket accept() throws IOException {
            Socket s = server.accept();
            s.setSoTimeout(STALL_MILLIS);
            accepted = s;
            return s;
        }

        @Override
        public void close() throws IOException {
            server.close();
            Socket s = accepted;
            if (s != null) {
                s.close();
            }
        }
    }
}
