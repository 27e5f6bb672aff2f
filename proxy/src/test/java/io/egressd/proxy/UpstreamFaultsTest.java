package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.policy.AllowlistLoader;
import io.egressd.policy.GlobalDeny;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Upstreams that fail, through every TCP front (issue 9, item 1): one that refuses, one that
 * resets mid-stream, one that accepts and never answers, one that never accepts. The client
 * gets 502, sees its connection end short of what was promised (never a truncated answer that
 * looks complete), gets 504 at the connect timeout, or is closed at the idle timeout. After
 * each fault, repeated, the process holds no more file descriptors than after a warm-up run of
 * the same fault.
 */
class UpstreamFaultsTest {

    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(1);
    /**
     * The idle timeout of the fronts the faults go through: longer than any wait here, so that
     * a connection that ends did so because of the fault, not because it went quiet.
     */
    static final Duration IDLE_TIMEOUT = Duration.ofSeconds(30);
    /** The idle timeout of the proxy that the silent upstream tests. */
    static final Duration SHORT_IDLE_TIMEOUT = Duration.ofSeconds(1);
    static final String APP = RawHttp.basic("app", "app-token");
    /** How often each fault runs after its warm-up: a leak of one descriptor per fault shows as 2. */
    static final int ROUNDS = 2;

    @TempDir
    static Path dir;

    static FaultyUpstream resetMidBody;
    static FaultyUpstream resetMidChunks;
    static FaultyUpstream resetMidStream;
    static FaultyUpstream closeMidStream;
    /** How the connections to {@link #recordsEnd} ended, as the upstream saw it. */
    static final BlockingQueue<String> endings = new LinkedBlockingQueue<>();
    static FaultyUpstream recordsEnd;
    static FaultyUpstream silent;
    static FaultyUpstream closeUnanswered;
    static FaultyUpstream bodyEndsAtClose;
    static ServerSocket neverAccepts;
    static final List<Socket> backlog = new ArrayList<>();
    static int closedPort;
    static ProxyFixture fx;
    static ProxyFixture shortIdle;
    static SocksProxy socks;
    static TcpForwards forwards;
    static final AtomicReference<Policy> policy = new AtomicReference<>();

    @BeforeAll
    static void start() throws Exception {
        resetMidBody = new FaultyUpstream(FaultyUpstream::resetMidBody);
        resetMidChunks = new FaultyUpstream(FaultyUpstream::resetMidChunks);
        resetMidStream = new FaultyUpstream(FaultyUpstream::resetMidStream);
        closeMidStream = new FaultyUpstream(FaultyUpstream::closeMidStream);
        recordsEnd = new FaultyUpstream(FaultyUpstream.recordingEnd(endings));
        silent = new FaultyUpstream(FaultyUpstream::silent);
        closeUnanswered = new FaultyUpstream(FaultyUpstream::closeUnanswered);
        bodyEndsAtClose = new FaultyUpstream(FaultyUpstream::bodyEndsAtClose);
        neverAccepts = FullBacklog.listener(backlog);
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort(); // closed again: connections to it are refused
        }
        String ports = List.of(resetMidBody.port(), resetMidChunks.port(), resetMidStream.port(), silent.port(),
                closeUnanswered.port(), bodyEndsAtClose.port(), neverAccepts.getLocalPort(), closedPort,
                closeMidStream.port(), recordsEnd.port()).toString();
        Path lists = Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(lists.resolve("app.yaml"), """
                server: app
                clients:
                  proxy_user: app
                  token_sha256: %s
                allow:
                  - cidr: 127.0.0.1/32
                    ports: %s
                forwards:
                  - {listen: "127.0.0.1:%d", to: "127.0.0.1:%d"}
                  - {listen: "127.0.0.1:%d", to: "127.0.0.1:%d"}
                  - {listen: "127.0.0.1:%d", to: "127.0.0.1:%d"}
                """.formatted(Allowlist.sha256("app-token"), ports,
                TcpForwardsTest.freePort(), resetMidStream.port(), TcpForwardsTest.freePort(), closeMidStream.port(),
                TcpForwardsTest.freePort(), recordsEnd.port()));
        policy.set(AllowlistLoader.load(lists, GlobalDeny.BUILT_IN));
        ProxySettings settings = ProxyFixture.settings().withConnectTimeout(CONNECT_TIMEOUT)
                .withIdleTimeout(IDLE_TIMEOUT);
        fx = new ProxyFixture(policy.get(), new LoopbackResolver(), settings);
        shortIdle = new ProxyFixture(policy.get(), new LoopbackResolver(),
                settings.withIdleTimeout(SHORT_IDLE_TIMEOUT));
        socks = SocksProxy.start(settings, policy::get, fx.listener, fx.resolver, null, new TestNetwork());
        forwards = TcpForwards.start(policy.get().forwards(), settings, policy::get, fx.listener, fx.resolver,
                new TestNetwork());
    }

    @AfterAll
    static void stop() throws IOException {
        forwards.close();
        socks.close();
        fx.close();
        shortIdle.close();
        for (AutoCloseable c : List.<AutoCloseable>of(resetMidBody, resetMidChunks, resetMidStream, silent,
                closeUnanswered, bodyEndsAtClose, closeMidStream, recordsEnd)) {
            try {
                c.close();
            } catch (Exception e) {
                // keep closing
            }
        }
        for (Socket s : backlog) {
            s.close();
        }
        neverAccepts.close();
    }

    // ---- what a client sees

    /** Everything the peer sent until it closed or reset the connection, or until {@code within} ran out. */
    record Ending(byte[] bytes, boolean closed, boolean reset) {
        String text() {
            return new String(bytes, StandardCharsets.ISO_8859_1);
        }

        @Override
        public String toString() {
            return (closed ? reset ? "reset" : "closed" : "still open") + " after " + bytes.length + " bytes: "
                    + text().substring(0, Math.min(600, bytes.length));
        }
    }

    static Ending readToEnd(Socket socket, Duration within) throws IOException {
        socket.setSoTimeout((int) within.toMillis());
        InputStream in = socket.getInputStream();
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        try {
            for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                got.write(buffer, 0, n);
            }
            return new Ending(got.toByteArray(), true, false);
        } catch (SocketTimeoutException e) {
            return new Ending(got.toByteArray(), false, false);
        } catch (SocketException e) {
            return new Ending(got.toByteArray(), true, true);
        }
    }

    static Socket connect(InetSocketAddress to) throws IOException {
        Socket s = new Socket();
        s.connect(to, 5000);
        return s;
    }

    static String get(int port) {
        String authority = "127.0.0.1:" + port;
        return "GET http://" + authority + "/file HTTP/1.1\r\nHost: " + authority + "\r\nProxy-Authorization: "
                + APP + "\r\n\r\n";
    }

    static String connectHead(int port) {
        return "CONNECT 127.0.0.1:" + port + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nProxy-Authorization: "
                + APP + "\r\n\r\n";
    }

    /** Runs {@code fault} once to warm up, then {@link #ROUNDS} times, and checks nothing stayed open. */
    static void leaksNothing(String name, Fault fault) throws Exception {
        fault.run();
        int baseline = OpenFiles.settledBaseline(UpstreamFaultsTest::openConnections);
        for (int i = 0; i < ROUNDS; i++) {
            fault.run();
        }
        OpenFiles.awaitAtMost(baseline, ROUNDS + " x " + name);
    }

    static int openConnections() {
        return fx.proxy.openConnections() + shortIdle.proxy.openConnections() + socks.openConnections()
                + forwards.openConnections();
    }

    @FunctionalInterface
    interface Fault {
        void run() throws Exception;
    }

    // ---- refused

    @Test
    void aRefusingUpstreamIs502ThroughHttpAndConnect() throws Exception {
        leaksNothing("refused", () -> {
            RawHttp.Response plain = RawHttp.send(fx.address(), get(closedPort));
            RawHttp.Response tunnel = RawHttp.send(fx.address(), connectHead(closedPort));

            assertThat(plain.status()).isEqualTo(502);
            assertThat(tunnel.status()).isEqualTo(502);
            assertThat(tunnel.closed()).isTrue();
        });
    }

    // ---- reset mid-stream

    @Test
    void aResetMidBodyEndsTheClientConnectionShortOfTheContentLength() throws Exception {
        leaksNothing("reset mid-body", () -> {
            try (Socket client = connect(fx.address())) {
                client.getOutputStream().write(get(resetMidBody.port()).getBytes(StandardCharsets.ISO_8859_1));
                Ending end = readToEnd(client, Duration.ofSeconds(5));

                assertThat(end.closed()).as("the proxy ends the client connection: %s", end).isTrue();
                String text = end.text();
                assertThat(text).startsWith("HTTP/1.1 200").contains("Content-Length: " + FaultyUpstream.PROMISED);
                // Nothing but the upstream's bytes: no second answer (a 502) written into the body.
                assertThat(text).containsOnlyOnce("HTTP/1.1");
                assertThat(text.substring(text.indexOf("\r\n\r\n") + 4).replace("x", "")).isEmpty();
                int body = text.length() - text.indexOf("\r\n\r\n") - 4;
                assertThat(body).as("body bytes before the end").isLessThan(FaultyUpstream.PROMISED);
            }
        });
    }

    @Test
    void aResetMidChunksNeverSendsTheLastChunk() throws Exception {
        leaksNothing("reset mid-chunks", () -> {
            try (Socket client = connect(fx.address())) {
                client.getOutputStream().write(get(resetMidChunks.port()).getBytes(StandardCharsets.ISO_8859_1));
                Ending end = readToEnd(client, Duration.ofSeconds(5));

                assertThat(end.closed()).as("the proxy ends the client connection: %s", end).isTrue();
                String text = end.text();
                assertThat(text).startsWith("HTTP/1.1 200");
                assertThat(text.toLowerCase()).contains("transfer-encoding: chunked");
                assertThat(text).as("no second answer (a 502) inside the chunks").containsOnlyOnce("HTTP/1.1");
                // The terminating zero-size chunk would tell the client the body was complete.
                assertThat(text).doesNotContain("\r\n0\r\n\r\n");
            }
        });
    }

    @Test
    void anUpstreamThatClosesWithoutAnsweringIs502AndAClose() throws Exception {
        leaksNothing("closed unanswered", () -> {
            try (Socket client = connect(fx.address())) {
                client.getOutputStream().write(get(closeUnanswered.port()).getBytes(StandardCharsets.ISO_8859_1));
                Ending end = readToEnd(client, Duration.ofSeconds(5));

                assertThat(end.closed()).as("the proxy ends the client connection: %s", end).isTrue();
                assertThat(end.text()).startsWith("HTTP/1.1 502").contains("closed the connection before it answered");
            }
        });
    }

    @Test
    void aBodyThatTheUpstreamEndsByClosingArrivesWhole() throws Exception {
        // Not a fault: the close that ends this body must not be taken for one (three runs of it).
        leaksNothing("body ended by the close", () -> {
            try (Socket client = connect(fx.address())) {
                client.setSoTimeout(5000);
                client.getOutputStream().write(get(bodyEndsAtClose.port()).getBytes(StandardCharsets.ISO_8859_1));
                RawHttp.Response response = RawHttp.read(client, false);
                String body = response.body();
                if (response.header("Transfer-Encoding") == null && response.header("Content-Length") == null) {
                    body = readToEnd(client, Duration.ofSeconds(5)).text(); // passed on as it came: to the close
                }

                assertThat(response.status()).isEqualTo(200);
                // The proxy frames it in chunks (RawHttp reads to the last one) or passes it to the close.
                assertThat(body.length()).as("body bytes").isEqualTo(FaultyUpstream.PROMISED);
                assertThat(body.replace("y", "")).as("anything but the upstream's bytes").isEmpty();
            }
        });
    }

    /** The stream fronts, and how a client reaches an upstream through each. */
    enum Via {
        CONNECT(Protocol.CONNECT), SOCKS5(Protocol.SOCKS5), FORWARD(Protocol.TCP);

        final Protocol protocol;

        Via(Protocol protocol) {
            this.protocol = protocol;
        }
    }

    /** A client connection to {@code upstream} through {@code via}, ready for bytes. */
    static Socket through(Via via, FaultyUpstream upstream) throws IOException {
        switch (via) {
            case CONNECT:
                return RawHttp.tunnel(fx.address(), "127.0.0.1:" + upstream.port(), APP);
            case SOCKS5:
                SocksClient c = new SocksClient(socks.boundAddress());
                assertThat(c.greet(SocksClient.PASSWORD)).isEqualTo(SocksClient.PASSWORD);
                assertThat(c.login("app", "app-token")).isZero();
                assertThat(c.requestAddress(SocksClient.CONNECT, InetAddress.getByName("127.0.0.1"),
                        upstream.port())).isZero();
                return c.socket;
            default:
                int forward = upstream == resetMidStream ? 0 : upstream == closeMidStream ? 1 : 2;
                return connect(forwards.addresses().get(forward));
        }
    }

    @Test
    void aResetMidStreamReachesTheClientAsAResetAfterTheBytesThroughATunnelSocks5AndAForward() throws Exception {
        for (Via via : Via.values()) {
            leaksNothing("reset mid-stream via " + via, () -> {
                int closedBefore = closedWith(via.protocol, FaultyUpstream.PARTIAL);
                try (Socket c = through(via, resetMidStream)) {
                    c.getOutputStream().write('q');
                    Ending end = readToEnd(c, Duration.ofSeconds(5));

                    assertThat(end.bytes()).as("%s: every byte sent before the reset: %s", via, end)
                            .hasSize(FaultyUpstream.PARTIAL);
                    assertThat(end.reset()).as("%s: the reset, not an end of stream: %s", via, end).isTrue();
                }
                // Still audited at close, with what was carried.
                await(via + " audited as closed with " + FaultyUpstream.PARTIAL + " bytes received")
                        .atMost(Duration.ofSeconds(5))
                        .until(() -> closedWith(via.protocol, FaultyUpstream.PARTIAL) > closedBefore);
            });
        }
    }

    @Test
    void anOrderlyCloseMidStreamStaysAnEndOfStreamThroughATunnelSocks5AndAForward() throws Exception {
        for (Via via : Via.values()) {
            leaksNothing("close mid-stream via " + via, () -> {
                try (Socket c = through(via, closeMidStream)) {
                    c.getOutputStream().write('q');
                    Ending end = readToEnd(c, Duration.ofSeconds(5));

                    assertThat(end.bytes()).as("%s: %s", via, end).hasSize(FaultyUpstream.PARTIAL);
                    assertThat(end.closed() && !end.reset()).as("%s: an end of stream: %s", via, end).isTrue();
                }
            });
        }
    }

    @Test
    void aClientResetReachesTheUpstreamAsAResetAndAClientCloseAsAnEndOfStream() throws Exception {
        for (Via via : Via.values()) {
            for (boolean reset : new boolean[] {true, false}) {
                leaksNothing((reset ? "client reset via " : "client close via ") + via, () -> {
                    endings.clear();
                    try (Socket c = through(via, recordsEnd)) {
                        c.getOutputStream().write('q');
                        assertThat(c.getInputStream().read()).as("echoed: the whole path is up").isEqualTo('q');
                        if (reset) {
                            c.setSoLinger(true, 0);
                        }
                    }
                    assertThat(endings.poll(5, TimeUnit.SECONDS)).as("%s, client %s", via, reset ? "reset" : "close")
                            .isEqualTo(reset ? "reset" : "eof");
                });
            }
        }
    }

    /** Connections of {@code protocol} audited as closed with {@code received} bytes from the upstream. */
    static int closedWith(Protocol protocol, long received) {
        return (int) fx.listener.closed.stream()
                .filter(c -> c.protocol() == protocol && c.bytesReceived() == received).count();
    }

    // ---- never answers

    @Test
    void anUpstreamThatNeverAcceptsIs504AtTheConnectTimeout() throws Exception {
        leaksNothing("connect hang", () -> {
            long start = System.nanoTime();
            RawHttp.Response plain = RawHttp.send(fx.address(), get(neverAccepts.getLocalPort()));
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            RawHttp.Response tunnel = RawHttp.send(fx.address(), connectHead(neverAccepts.getLocalPort()));

            assertThat(plain.status()).isEqualTo(504);
            assertThat(took).isGreaterThanOrEqualTo(CONNECT_TIMEOUT.minusMillis(100));
            assertThat(tunnel.status()).isEqualTo(504);
            assertThat(tunnel.closed()).isTrue();
        });
    }

    @Test
    void aSilentUpstreamIsClosedAtTheIdleTimeoutForARequestAndATunnel() throws Exception {
        leaksNothing("silent upstream", () -> {
            try (Socket plain = connect(shortIdle.address());
                 Socket tunnel = RawHttp.tunnel(shortIdle.address(), "127.0.0.1:" + silent.port(), APP)) {
                plain.getOutputStream().write(get(silent.port()).getBytes(StandardCharsets.ISO_8859_1));
                tunnel.getOutputStream().write("hello?".getBytes(StandardCharsets.US_ASCII));

                Ending request = readToEnd(plain, Duration.ofSeconds(5));
                Ending quiet = readToEnd(tunnel, Duration.ofSeconds(5));

                // One 504, and the connection closes: a late answer from the upstream could otherwise
                // be read as the answer to the client's next request on the same connection.
                assertThat(request.closed()).as("the waiting request is ended, not left hanging: %s", request)
                        .isTrue();
                assertThat(request.text()).startsWith("HTTP/1.1 504").containsOnlyOnce("HTTP/1.1")
                        .containsIgnoringCase("connection: close");
                assertThat(quiet.closed()).as("the quiet tunnel is closed: %s", quiet).isTrue();
                assertThat(quiet.bytes()).isEmpty();
            }
        });
    }
}
