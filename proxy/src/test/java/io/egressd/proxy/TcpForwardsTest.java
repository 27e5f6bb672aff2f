package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.egressd.policy.Decision;
import io.egressd.policy.Forward;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TCP forwards: the listener belongs to its server; every connection re-resolves the target,
 * is vetted and pinned like a CONNECT, audited with protocol tcp and byte counts; a refused
 * one is reset.
 */
class TcpForwardsTest {

    @TempDir
    Path dir;

    private EchoServer first;
    private EchoServer second;
    private final RecordingListener listener = new RecordingListener();
    private final AtomicReference<Policy> policy = new AtomicReference<>();
    private TcpForwards forwards;

    @BeforeEach
    void start() throws Exception {
        first = new EchoServer("127.0.0.1");
        second = new EchoServer("127.0.0.2");
    }

    @AfterEach
    void stop() {
        if (forwards != null) {
            forwards.close();
        }
        first.close();
        second.close();
    }

    static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Loads {@code yaml} (with LISTEN standing for a free loopback port) as allowlists/app.yaml. */
    private Policy load(String yaml) throws Exception {
        Path lists = Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(lists.resolve("app.yaml"), yaml);
        return io.egressd.policy.AllowlistLoader.load(lists, io.egressd.policy.GlobalDeny.BUILT_IN);
    }

    /** One forward from 127.0.0.1:{@code listen} to 127.0.0.1:{@code port}, allowed by a cidr rule. */
    private Policy forwardTo(int listen, int port) throws Exception {
        return forwardTo(Files.createDirectories(dir.resolve("allowlists")), listen, port);
    }

    /** As above, written as {@code lists}/app.yaml and loaded from there. */
    static Policy forwardTo(Path lists, int listen, int port) throws Exception {
        Files.writeString(lists.resolve("app.yaml"), """
                server: app
                allow:
                  - cidr: 127.0.0.1/32
                    ports: [%d]
                forwards: [{listen: "127.0.0.1:%d", to: "127.0.0.1:%d"}]
                """.formatted(port, listen, port));
        return io.egressd.policy.AllowlistLoader.load(lists, io.egressd.policy.GlobalDeny.BUILT_IN);
    }

    private TcpForwards startForwards(LoopbackResolver resolver, ProxySettings limits) {
        return startForwards(resolver, limits, new TestNetwork());
    }

    private TcpForwards startForwards(LoopbackResolver resolver, ProxySettings limits, TestNetwork network) {
        return TcpForwards.start(policy.get().forwards(), limits, policy::get, listener, resolver, network);
    }

    private static String echo(InetSocketAddress forward, String text) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(forward, 5000);
            s.setSoTimeout(5000);
            byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
            s.getOutputStream().write(bytes);
            byte[] back = s.getInputStream().readNBytes(bytes.length);
            return new String(back, StandardCharsets.US_ASCII);
        }
    }

    /** What a client of a refused forward sees: a reset, not an orderly end of stream. */
    private static void assertReset(InetSocketAddress forward) throws IOException {
        try (Socket s = new Socket()) {
            // The reset can race the end of the client's connect and its first write, so it may
            // surface on the connect (a loaded machine), the write or the read.
            assertThatThrownBy(() -> {
                s.connect(forward, 5000);
                s.setSoTimeout(5000);
                InputStream in = s.getInputStream();
                s.getOutputStream().write("startup".getBytes(StandardCharsets.US_ASCII));
                while (in.read() >= 0) {
                    // drain until the reset
                }
            }).isInstanceOf(SocketException.class).hasMessageContaining("reset");
        }
    }

    @Test
    void eachConnectionIsDecidedPinnedSplicedAndAudited() throws Exception {
        int port = first.port();
        int listen = freePort();
        policy.set(load("""
                server: app
                allow:
                  - host: db.test
                    ports: [%d]
                  - cidr: 127.0.0.0/8
                    ports: [%d]
                forwards:
                  - {listen: "127.0.0.1:%d", to: "db.test:%d"}
                """.formatted(port, port, listen, port)));
        // The name moves between two calls: each connection resolves it again and dials what it got.
        LoopbackResolver resolver = new LoopbackResolver().answer("db.test", "127.0.0.1").answer("db.test", "127.0.0.2");
        // The second address listens on the same port, so that the move is visible.
        EchoServer secondOnPort = new EchoServer("127.0.0.2", port);
        try {
            forwards = startForwards(resolver, SocksProxyTest.settings());
            InetSocketAddress address = forwards.addresses().get(0);
            assertThat(address).isEqualTo(new InetSocketAddress("127.0.0.1", listen));

            assertThat(echo(address, "select 1")).isEqualTo("select 1");
            assertThat(echo(address, "select 2")).isEqualTo("select 2");
            assertThat(first.accepts()).isEqualTo(1);
            assertThat(secondOnPort.accepts()).isEqualTo(1);
            assertThat(resolver.calls("db.test")).isEqualTo(2);

            assertThat(listener.decided).hasSize(2);
            Decision d = listener.decided.get(1).decision();
            assertThat(listener.decided.get(1).protocol()).isEqualTo(Protocol.TCP);
            assertThat(d.allowed()).isTrue();
            assertThat(d.server()).isEqualTo("app");
            assertThat(d.host()).isEqualTo("db.test");
            assertThat(d.address()).isEqualTo(InetAddress.getByName("127.0.0.2"));
            await().atMost(Duration.ofSeconds(5)).until(() -> listener.closed.size() == 2);
            RecordingListener.Closed closed = listener.closed.get(0);
            assertThat(closed.protocol()).isEqualTo(Protocol.TCP);
            assertThat(closed.bytesSent()).isEqualTo(8);
            assertThat(closed.bytesReceived()).isEqualTo(8);
        } finally {
            secondOnPort.close();
        }
    }

    @Test
    void aTargetThatResolvesOutsideTheRulesIsResetAndAudited() throws Exception {
        int port = first.port();
        int listen = freePort();
        policy.set(load("""
                server: app
                allow:
                  - host: db.test
                    ports: [%d]
                  - cidr: 127.0.0.1/32
                    ports: [%d]
                forwards:
                  - {listen: "127.0.0.1:%d", to: "db.test:%d"}
                """.formatted(port, port, listen, port)));
        // Rebound to an address no rule allows (loopback outside the cidr rule).
        forwards = startForwards(new LoopbackResolver().answer("db.test", "127.0.0.2"), SocksProxyTest.settings());
        assertReset(forwards.addresses().get(0));
        assertThat(second.accepts()).isZero();
        await().atMost(Duration.ofSeconds(5)).until(() -> listener.decided.size() == 1);
        Decision d = listener.decided.get(0).decision();
        assertThat(listener.decided.get(0).protocol()).isEqualTo(Protocol.TCP);
        assertThat(d.reason()).isEqualTo(Reason.ADDRESS_NOT_ALLOWED);
        assertThat(listener.closed).isEmpty();
    }

    @Test
    void aForwardTheCurrentPolicyNoLongerDeclaresIsRefused() throws Exception {
        int port = first.port();
        int listen = freePort();
        String rules = """
                server: app
                allow:
                  - cidr: 127.0.0.1/32
                    ports: [%d]
                """.formatted(port);
        policy.set(load(rules + "forwards: [{listen: \"127.0.0.1:%d\", to: \"127.0.0.1:%d\"}]\n"
                .formatted(listen, port)));
        forwards = startForwards(new LoopbackResolver(), SocksProxyTest.settings());
        assertThat(echo(forwards.addresses().get(0), "up")).isEqualTo("up");
        policy.set(load(rules));
        assertReset(forwards.addresses().get(0));
        await().atMost(Duration.ofSeconds(5)).until(() -> listener.decided.size() == 2);
        assertThat(listener.decided.get(1).decision().reason()).isEqualTo(Reason.HOST_NOT_ALLOWED);
        assertThat(first.accepts()).isEqualTo(1);
    }

    @Test
    void anUnreachableTargetIsReset() throws Exception {
        int closedPort = freePort();
        int listen = freePort();
        policy.set(forwardTo(listen, closedPort));
        forwards = startForwards(new LoopbackResolver(), SocksProxyTest.settings());
        assertReset(forwards.addresses().get(0));
        await().atMost(Duration.ofSeconds(5)).until(() -> listener.closed.size() == 1);
        assertThat(listener.decided.get(0).decision().allowed()).isTrue();
    }

    @Test
    void anAllowedAddressWithNoRouteToDialIsResetAndAuditedAsARefusal() throws Exception {
        int port = first.port();
        int listen = freePort();
        policy.set(load("""
                server: app
                allow:
                  - host: noroute.test
                    ports: [%d]
                  - cidr: 127.0.0.3/32
                    ports: [%d]
                forwards: [{listen: "127.0.0.1:%d", to: "noroute.test:%d"}]
                """.formatted(port, port, listen, port)));
        // The rules allow 127.0.0.3; the test network has no route to it, standing in for an allowed
        // decision egressd cannot dial (no address to pin).
        forwards = startForwards(new LoopbackResolver().answer("noroute.test", "127.0.0.3"),
                SocksProxyTest.settings(), new TestNetwork().unroutable(InetAddress.getByName("127.0.0.3")));
        assertReset(forwards.addresses().get(0));
        await().atMost(Duration.ofSeconds(5)).until(() -> listener.decided.size() == 1);
        Decision d = listener.decided.get(0).decision();
        assertThat(listener.decided.get(0).protocol()).isEqualTo(Protocol.TCP);
        assertThat(d.allowed()).isFalse();
        assertThat(d.reason()).isEqualTo(Reason.ADDRESS_NOT_ALLOWED);
        assertThat(d.server() + " " + d.host() + ":" + d.port()).isEqualTo("app noroute.test:" + port);
        assertThat(listener.closed).isEmpty();
        assertThat(listener.upstreamConnects).isEmpty();
    }

    @Test
    void anUpstreamThatNeverAcceptsIsResetAtTheConnectTimeout() throws Exception {
        List<Socket> fillers = new ArrayList<>();
        try (ServerSocket slow = FullBacklog.listener(fillers)) {
            int listen = freePort();
            policy.set(forwardTo(listen, slow.getLocalPort()));
            forwards = startForwards(new LoopbackResolver(), SocksProxyTest.settings()); // connect_timeout 2 s
            long start = System.nanoTime();
            assertReset(forwards.addresses().get(0));
            assertThat((System.nanoTime() - start) / 1_000_000).isBetween(1900L, 8000L);
            await().atMost(Duration.ofSeconds(5)).until(() -> listener.closed.size() == 1);
            assertThat(listener.decided).singleElement().satisfies(d -> assertThat(d.decision().allowed()).isTrue());
            assertThat(listener.closed.get(0).bytesSent()).isZero();
            assertThat(listener.upstreamConnects).isEmpty();
            await().atMost(Duration.ofSeconds(5)).until(() -> forwards.openConnections() == 0);
        } finally {
            for (Socket s : fillers) {
                s.close();
            }
        }
    }

    @Test
    void aQuietForwardIsClosedAtTheIdleTimeout() throws Exception {
        int port = first.port();
        int listen = freePort();
        policy.set(forwardTo(listen, port));
        forwards = startForwards(new LoopbackResolver(),
                SocksProxyTest.settings().withIdleTimeout(Duration.ofSeconds(1)));
        try (Socket s = new Socket()) {
            s.connect(forwards.addresses().get(0), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write("busy".getBytes(StandardCharsets.US_ASCII));
            assertThat(new String(s.getInputStream().readNBytes(4), StandardCharsets.US_ASCII)).isEqualTo("busy");
            long quietSince = System.nanoTime();
            assertThat(s.getInputStream().read()).as("closed by egressd, not by the client").isEqualTo(-1);
            assertThat((System.nanoTime() - quietSince) / 1_000_000).isBetween(900L, 5000L);
        }
        assertThat(listener.rejected).containsExactly("forward/idle_timeout");
        await().atMost(Duration.ofSeconds(5)).until(() -> listener.closed.size() == 1);
        assertThat(listener.closed.get(0).bytesSent()).isEqualTo(4);
        assertThat(listener.closed.get(0).bytesReceived()).isEqualTo(4);
    }

    @Test
    void connectionsBeyondTheLimitAreReset() throws Exception {
        int port = first.port();
        int listen = freePort();
        policy.set(forwardTo(listen, port));
        forwards = startForwards(new LoopbackResolver(), SocksProxyTest.settings().withMaxConnections(1));
        InetSocketAddress address = forwards.addresses().get(0);
        try (Socket held = new Socket()) {
            held.connect(address, 5000);
            held.setSoTimeout(5000);
            held.getOutputStream().write('x');
            assertThat(held.getInputStream().read()).isEqualTo('x');
            assertReset(address);
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> listener.decided.size() == 2);
        assertThat(listener.decided.get(1).decision().reason()).isEqualTo(Reason.LIMIT_EXCEEDED);
    }

    @Test
    void aListenAddressInUseFailsTheStartAndBindsNothing() throws Exception {
        int port = first.port();
        int free = freePort();
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            policy.set(load("""
                    server: app
                    allow:
                      - cidr: 127.0.0.1/32
                        ports: [%d]
                    forwards:
                      - {listen: "127.0.0.1:%d", to: "127.0.0.1:%d"}
                      - {listen: "127.0.0.1:%d", to: "127.0.0.1:%d"}
                    """.formatted(port, free, port, taken.getLocalPort(), port)));
            assertThatThrownBy(() -> startForwards(new LoopbackResolver(), SocksProxyTest.settings()))
                    .isInstanceOf(UncheckedIOException.class).hasMessageContaining("cannot listen on 127.0.0.1:"
                            + taken.getLocalPort());
        }
        try (ServerSocket again = new ServerSocket(free, 1, InetAddress.getLoopbackAddress())) {
            assertThat(again.isBound()).isTrue(); // the first forward's port was released
        }
    }

    @Test
    void forwardsComeFromTheAllowlist() throws Exception {
        int listen = freePort();
        policy.set(load("""
                server: app
                allow: [{cidr: 127.0.0.1/32, ports: [5432]}]
                forwards: [{listen: "127.0.0.1:%d", to: "127.0.0.1:5432"}]
                """.formatted(listen)));
        Forward f = policy.get().forwards().get(0);
        assertThat(f.server()).isEqualTo("app");
        assertThat(f.id()).isEqualTo("allowlists/app.yaml#forwards[0]");
    }
}
