package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.policy.Policy;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Floods of connections: a slowloris client is closed at the header timeout, and connections
 * over {@code max_connections} or {@code max_connections_per_source} are closed at accept, so
 * an unknown source cannot take the slots an identified client needs.
 */
class FloodLimitsTest {

    /** The identified client ("app" by source address); other 127/8 addresses are unknown sources. */
    static final String APP_SOURCE = "127.0.0.3";

    @TempDir
    static Path dir;

    static CountingHttpServer upstream;
    static Policy policy;

    @BeforeAll
    static void start() throws Exception {
        upstream = new CountingHttpServer("127.0.0.1", 0, "upstream");
        policy = Allowlist.load(dir, Allowlist.server("app").source(APP_SOURCE + "/32")
                .cidr("127.0.0.1/32", upstream.port()));
    }

    @AfterAll
    static void stop() {
        upstream.close();
    }

    static String get() {
        String authority = "127.0.0.1:" + upstream.port();
        return "GET http://" + authority + "/ HTTP/1.1\r\nHost: " + authority + "\r\nUser-Agent: flood-test\r\n"
                + "Accept: */*\r\n\r\n";
    }

    static Socket from(String source, InetSocketAddress proxy) throws IOException {
        Socket socket = new Socket();
        socket.bind(new InetSocketAddress(source, 0));
        socket.connect(proxy, 5000);
        return socket;
    }

    /** Whether the peer closes (or resets) {@code socket} within {@code within}, reading and dropping any bytes. */
    static boolean closedByPeer(Socket socket, Duration within) throws IOException {
        socket.setSoTimeout((int) within.toMillis());
        try {
            while (socket.getInputStream().read() >= 0) {
                // An answer is not expected; keep reading until the close.
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (SocketException e) {
            return true; // reset
        }
    }

    static RawHttp.Response getFrom(String source, InetSocketAddress proxy) throws IOException {
        try (Socket socket = from(source, proxy)) {
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(get().getBytes(StandardCharsets.ISO_8859_1));
            return RawHttp.read(socket, false);
        }
    }

    @Test
    void aSlowlorisClientTricklingAByteASecondIsClosedAtTheHeaderTimeout() throws Exception {
        int before = upstream.accepts();
        try (ProxyFixture fx = new ProxyFixture(policy, new LoopbackResolver(),
                ProxyFixture.settings().withHeaderTimeout(Duration.ofSeconds(3)));
             Socket slow = from(APP_SOURCE, fx.address())) {
            byte[] head = get().getBytes(StandardCharsets.ISO_8859_1);
            AtomicInteger sent = new AtomicInteger();
            Thread trickle = new Thread(() -> {
                try {
                    for (byte b : head) {
                        slow.getOutputStream().write(b);
                        slow.getOutputStream().flush();
                        sent.incrementAndGet();
                        Thread.sleep(1000);
                    }
                } catch (IOException | InterruptedException e) {
                    // closed by the proxy (or by the test): stop trickling
                }
            }, "slowloris");
            trickle.setDaemon(true);
            trickle.start();
            try {
                assertThat(closedByPeer(slow, Duration.ofSeconds(10))).isTrue();
                assertThat(sent.get()).isBetween(2, head.length - 1);
            } finally {
                trickle.interrupt();
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> fx.proxy.openConnections() == 0);
            assertThat(fx.listener.rejected).containsExactly("http/header_timeout");
            assertThat(upstream.accepts()).isEqualTo(before);
            assertThat(getFrom(APP_SOURCE, fx.address()).status()).isEqualTo(200);
        }
    }

    @Test
    void aConnectionThatSendsNothingIsClosedAtTheHeaderTimeoutButAKeptAliveOneWaitsForItsNextRequest()
            throws Exception {
        try (ProxyFixture fx = new ProxyFixture(policy, new LoopbackResolver(),
                ProxyFixture.settings().withHeaderTimeout(Duration.ofSeconds(1)));
             Socket silent = from(APP_SOURCE, fx.address());
             Socket kept = from(APP_SOURCE, fx.address())) {
            kept.setSoTimeout(10_000);
            kept.getOutputStream().write(get().getBytes(StandardCharsets.ISO_8859_1));
            RawHttp.Response first = RawHttp.read(kept, false);
            assertThat(first.status()).isEqualTo(200);

            assertThat(closedByPeer(silent, Duration.ofSeconds(5))).isTrue();
            Thread.sleep(1500); // longer than the header timeout, with no request begun on `kept`
            kept.getOutputStream().write(get().getBytes(StandardCharsets.ISO_8859_1));
            assertThat(RawHttp.read(kept, false).status()).isEqualTo(200);

            kept.getOutputStream().write("GET ".getBytes(StandardCharsets.ISO_8859_1)); // a head begun, never ended
            assertThat(closedByPeer(kept, Duration.ofSeconds(5))).isTrue();
        }
    }

    @Test
    void aKeptAliveConnectionQuietForTheIdleTimeoutIsClosedAndReported() throws Exception {
        try (ProxyFixture fx = new ProxyFixture(policy, new LoopbackResolver(),
                ProxyFixture.settings().withIdleTimeout(Duration.ofSeconds(1)));
             Socket kept = from(APP_SOURCE, fx.address())) {
            kept.setSoTimeout(10_000);
            kept.getOutputStream().write(get().getBytes(StandardCharsets.ISO_8859_1));
            assertThat(RawHttp.read(kept, false).status()).isEqualTo(200);
            assertThat(closedByPeer(kept, Duration.ofSeconds(10))).isTrue();
            await().atMost(Duration.ofSeconds(5)).until(() -> fx.listener.rejected.contains("http/idle_timeout"));
            assertThat(fx.listener.rejected).containsExactly("http/idle_timeout");
        }
    }

    @Test
    void unknownSourcesCannotTakeTheSlotsOfAnIdentifiedClient() throws Exception {
        List<Socket> sockets = new ArrayList<>();
        try (ProxyFixture fx = new ProxyFixture(policy, new LoopbackResolver(), ProxyFixture.settings()
                .withMaxConnections(4).withMaxConnectionsPerSource(2).withHeaderTimeout(Duration.ofSeconds(30)))) {
            List<Socket> flood = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                Socket s = from("127.0.0.2", fx.address());
                sockets.add(s);
                flood.add(s);
                s.getOutputStream().write('G'); // a head begun, held open
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> fx.proxy.openConnections() == 2);
            int closed = 0;
            for (Socket s : flood) {
                closed += closedByPeer(s, Duration.ofMillis(300)) ? 1 : 0;
            }
            assertThat(closed).as("connections from the flooding source closed at accept").isEqualTo(4);
            assertThat(fx.proxy.openConnections()).isEqualTo(2);
            assertThat(fx.listener.rejected).containsOnly("http/max_connections_per_source").hasSize(4);

            assertThat(getFrom(APP_SOURCE, fx.address()).status()).isEqualTo(200);

            // Beyond max_connections everyone is closed at accept, identified or not ...
            await().atMost(Duration.ofSeconds(5)).until(() -> fx.proxy.openConnections() == 2);
            for (int i = 0; i < 2; i++) {
                Socket s = from("127.0.0.4", fx.address());
                sockets.add(s);
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> fx.proxy.openConnections() == 4);
            try (Socket over = from(APP_SOURCE, fx.address())) {
                assertThat(closedByPeer(over, Duration.ofSeconds(5))).isTrue();
            }
            assertThat(fx.listener.rejected).filteredOn("http/max_connections"::equals).hasSize(1);
            assertThat(fx.listener.decided).as("no server is known at accept: no refusal is audited")
                    .allSatisfy(d -> assertThat(d.decision().allowed()).isTrue());
            // ... and only open connections count: one closing frees its slot.
            sockets.get(sockets.size() - 1).close();
            await().atMost(Duration.ofSeconds(5)).until(() -> fx.proxy.openConnections() == 3);
            assertThat(getFrom(APP_SOURCE, fx.address()).status()).isEqualTo(200);
        } finally {
            for (Socket s : sockets) {
                s.close();
            }
        }
    }
}
