package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.egressd.policy.Decision;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SOCKS5 front and the TCP forwards honor the HTTP proxy's limits: {@code max_connections}
 * and {@code max_connections_per_source} close a connection at accept, unread (reported as a
 * rejection; a forward, whose server is known, also audits {@code limit_exceeded});
 * {@code max_connections_per_server} and the request rate refuse the request: SOCKS5 reply 0x02,
 * a forward reset, both audited as {@code limit_exceeded}. Other sources and servers go on.
 */
class StreamLimitsTest {

    @TempDir
    Path dir;

    private EchoServer echo;
    private final RecordingListener listener = new RecordingListener();
    private Policy policy;
    private final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        echo = new EchoServer("127.0.0.1");
        policy = Allowlist.load(dir,
                Allowlist.server("app").source("127.0.0.3/32").host("api.test", echo.port())
                        .cidr("127.0.0.1/32", echo.port()),
                Allowlist.server("other").source("127.0.0.4/32").host("api.test", echo.port())
                        .cidr("127.0.0.1/32", echo.port()));
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable c : open) {
            c.close();
        }
        echo.close();
    }

    private <T extends AutoCloseable> T keep(T c) {
        open.add(c);
        return c;
    }

    private SocksProxy socks(ProxySettings settings) {
        return keep(SocksProxy.start(settings, () -> policy, listener,
                new LoopbackResolver().answer("api.test", "127.0.0.1"), null, new TestNetwork()));
    }

    /** A SOCKS5 client from {@code source} (identified by it) through to the echo server, spliced. */
    private SocksClient connected(SocksProxy socks, String source) throws IOException {
        SocksClient c = keep(new SocksClient(socks.boundAddress(), source));
        assertThat(c.greet(SocksClient.NO_AUTH)).isEqualTo(SocksClient.NO_AUTH);
        assertThat(c.requestName(SocksClient.CONNECT, "api.test", echo.port())).isZero();
        echoes(c.socket, "ok");
        return c;
    }

    private static void echoes(Socket s, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        s.getOutputStream().write(bytes);
        s.getOutputStream().flush();
        s.setSoTimeout(5000);
        assertThat(new String(s.getInputStream().readNBytes(bytes.length), StandardCharsets.US_ASCII))
                .isEqualTo(text);
    }

    private List<Decision> limitExceeded(Protocol protocol) {
        return listener.decided.stream().filter(d -> d.protocol() == protocol)
                .map(RecordingListener.Decided::decision)
                .filter(d -> d.reason() == Reason.LIMIT_EXCEEDED).toList();
    }

    @Test
    void socksConnectionsOverThePerSourceCapAreClosedAtAcceptWhileOtherSourcesAreServed() throws Exception {
        SocksProxy socks = socks(SocksProxyTest.settings().withMaxConnectionsPerSource(2));
        connected(socks, "127.0.0.3");
        connected(socks, "127.0.0.3");
        try (SocksClient third = new SocksClient(socks.boundAddress(), "127.0.0.3")) {
            assertThat(third.closedByServer()).isTrue();
        }
        assertThat(listener.rejected).containsExactly("socks5/max_connections_per_source");
        connected(socks, "127.0.0.4");
        assertThat(socks.openConnections()).isEqualTo(3);
        assertThat(limitExceeded(Protocol.SOCKS5)).isEmpty(); // no server is known at accept
    }

    @Test
    void aSocksServerOverItsConnectionCapGetsReply2AndLimitExceededWhileAnotherServerConnects() throws Exception {
        SocksProxy socks = socks(SocksProxyTest.settings().withServerLimits(1, 0));
        SocksClient first = connected(socks, "127.0.0.3");
        try (SocksClient second = new SocksClient(socks.boundAddress(), "127.0.0.3")) {
            assertThat(second.greet(SocksClient.NO_AUTH)).isEqualTo(SocksClient.NO_AUTH);
            assertThat(second.requestName(SocksClient.CONNECT, "api.test", echo.port())).isEqualTo(2);
            assertThat(second.closedByServer()).isTrue();
        }
        assertThat(limitExceeded(Protocol.SOCKS5)).singleElement()
                .satisfies(d -> assertThat(d.server()).isEqualTo("app"));
        connected(socks, "127.0.0.4"); // another server's cap is its own

        first.close(); // only open connections count: the slot is free again
        await().atMost(Duration.ofSeconds(5)).until(() -> socks.openConnections() == 1);
        connected(socks, "127.0.0.3");
    }

    @Test
    void aSocksServerOverItsRequestRateGetsReply2() throws Exception {
        SocksProxy socks = socks(SocksProxyTest.settings().withServerLimits(100, 2));
        int ok = 0;
        int refused = 0;
        for (int i = 0; i < 12; i++) {
            try (SocksClient c = new SocksClient(socks.boundAddress(), "127.0.0.3")) {
                assertThat(c.greet(SocksClient.NO_AUTH)).isEqualTo(SocksClient.NO_AUTH);
                int reply = c.requestName(SocksClient.CONNECT, "api.test", echo.port());
                assertThat(reply).isIn(0, 2);
                if (reply == 0) {
                    ok++;
                } else {
                    refused++;
                }
            }
        }
        // A bucket of 4 (twice the rate) refilling at 2/s: at least 4 pass, and 12 in well under 4 s cannot all.
        assertThat(ok).isGreaterThanOrEqualTo(4);
        assertThat(refused).isPositive();
        assertThat(limitExceeded(Protocol.SOCKS5)).hasSize(refused);
        try (SocksClient c = new SocksClient(socks.boundAddress(), "127.0.0.4")) {
            assertThat(c.greet(SocksClient.NO_AUTH)).isEqualTo(SocksClient.NO_AUTH);
            assertThat(c.requestName(SocksClient.CONNECT, "api.test", echo.port())).isZero();
        }
    }

    // ---- forwards

    private TcpForwards forwards(ProxySettings limits) throws Exception {
        policy = TcpForwardsTest.forwardTo(Files.createDirectories(dir.resolve("forwards")),
                TcpForwardsTest.freePort(), echo.port());
        return keep(TcpForwards.start(policy.forwards(), limits, () -> policy, listener, new LoopbackResolver(),
                new TestNetwork()));
    }

    private Socket spliced(InetSocketAddress forward, String source) throws IOException {
        Socket s = keep(new Socket());
        s.bind(new InetSocketAddress(source, 0));
        s.connect(forward, 5000);
        echoes(s, "ok");
        return s;
    }

    private static void assertReset(InetSocketAddress forward, String source) throws IOException {
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(source, 0));
            s.setSoLinger(true, 0);
            try {
                s.connect(forward, 5000);
            } catch (SocketException resetAlready) {
                return; // the reset beat the end of connect()
            }
            s.setSoTimeout(5000);
            InputStream in = s.getInputStream();
            assertThatThrownBy(() -> {
                s.getOutputStream().write("x".getBytes(StandardCharsets.US_ASCII));
                while (in.read() >= 0) {
                    // drain until the reset
                }
            }).isInstanceOf(SocketException.class);
        }
    }

    @Test
    void forwardConnectionsOverTheGlobalAndPerSourceCapsAreResetAndAuditedAsLimitExceeded() throws Exception {
        TcpForwards forwards = forwards(SocksProxyTest.settings().withMaxConnections(3).withMaxConnectionsPerSource(2));
        InetSocketAddress address = forwards.addresses().get(0);
        spliced(address, "127.0.0.2");
        spliced(address, "127.0.0.2");
        assertReset(address, "127.0.0.2");
        await().atMost(Duration.ofSeconds(5)).until(() -> limitExceeded(Protocol.TCP).size() == 1);
        assertThat(listener.rejected).containsExactly("forward/max_connections_per_source");

        spliced(address, "127.0.0.5"); // another source: served, up to the global cap
        assertReset(address, "127.0.0.6");
        await().atMost(Duration.ofSeconds(5)).until(() -> limitExceeded(Protocol.TCP).size() == 2);
        assertThat(listener.rejected).containsExactly("forward/max_connections_per_source",
                "forward/max_connections");
        assertThat(limitExceeded(Protocol.TCP)).allSatisfy(d -> assertThat(d.server()).isEqualTo("app"));
        assertThat(forwards.openConnections()).isEqualTo(3);
    }

    @Test
    void aForwardsServerOverItsConnectionCapOrRateIsResetWithLimitExceeded() throws Exception {
        TcpForwards capped = forwards(SocksProxyTest.settings().withServerLimits(1, 0));
        Socket first = spliced(capped.addresses().get(0), "127.0.0.2");
        assertReset(capped.addresses().get(0), "127.0.0.2");
        await().atMost(Duration.ofSeconds(5)).until(() -> limitExceeded(Protocol.TCP).size() == 1);
        first.close();
        await().atMost(Duration.ofSeconds(5)).until(() -> capped.openConnections() == 0);
        spliced(capped.addresses().get(0), "127.0.0.2").close();
        capped.close();

        listener.clear();
        TcpForwards rated = forwards(SocksProxyTest.settings().withServerLimits(100, 2));
        int refused = 0;
        for (int i = 0; i < 12; i++) {
            try (Socket s = new Socket()) {
                s.connect(rated.addresses().get(0), 5000);
                s.setSoTimeout(5000);
                s.getOutputStream().write("x".getBytes(StandardCharsets.US_ASCII));
                if (s.getInputStream().read() != 'x') {
                    refused++;
                }
            } catch (SocketException reset) {
                refused++;
            }
        }
        assertThat(refused).isBetween(1, 8);
        assertThat(limitExceeded(Protocol.TCP)).hasSize(refused);
    }
}
