package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.policy.Decision;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The SOCKS5 front byte by byte (RFC 1928, RFC 1929): method choice, credentials, the
 * decision for names and addresses, every reply code egressd sends, and what the listener
 * (audit and metrics) is told. Everything on loopback.
 */
class SocksProxyTest {

    @TempDir
    static Path dir;

    static EchoServer echo;
    static int closedPort;
    static ServerSocket fullBacklog;
    static final List<Socket> fillers = new ArrayList<>();
    static LoopbackResolver resolver;
    static final RecordingListener listener = new RecordingListener();
    static final AtomicReference<Policy> policy = new AtomicReference<>();
    static SocksProxy socks;

    @BeforeAll
    static void start() throws Exception {
        echo = new EchoServer("127.0.0.1");
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort(); // closed again: connections to it are refused
        }
        fullBacklog = fullBacklogListener();
        int e = echo.port();
        int slow = fullBacklog.getLocalPort();
        policy.set(Allowlist.load(dir,
                Allowlist.server("app").credentials("app", "app-token")
                        .host("api.test", e).host("closed.test", closedPort).host("slow.test", slow)
                        .host("hang.test", e).host("v6.test", e)
                        .cidr("127.0.0.1/32", e, closedPort, slow).cidr("::1/128", e).host("noroute.test", e)
                        .cidr("127.0.0.3/32", e),
                Allowlist.server("local").source("127.0.0.5/32").host("api.test", e).cidr("127.0.0.1/32", e)));
        resolver = new LoopbackResolver().answer("api.test", "127.0.0.1").answer("closed.test", "127.0.0.1")
                .answer("slow.test", "127.0.0.1").answer("evil.test", "127.0.0.1").answer("v6.test", "::1")
                .answer("noroute.test", "127.0.0.3").hang("hang.test");
        socks = SocksProxy.start(settings(), policy::get, listener, resolver, null,
                new TestNetwork().unroutable(InetAddress.getByName("127.0.0.3")));
    }

    static ProxySettings settings() {
        return ProxySettings.defaults(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .withConnectTimeout(Duration.ofSeconds(2))
                .withIdleTimeout(Duration.ofSeconds(30))
                .withThreads(1, 2, 1);
    }

    /** A listener whose accept queue is full: a further connection attempt gets no answer and times out. */
    static ServerSocket fullBacklogListener() throws IOException {
        return FullBacklog.listener(fillers);
    }

    @AfterAll
    static void stop() throws IOException {
        socks.close();
        echo.close();
        for (Socket s : fillers) {
            s.close();
        }
        fullBacklog.close();
    }

    @BeforeEach
    void clear() {
        listener.clear();
    }

    private static SocksClient loggedIn() throws IOException {
        SocksClient c = new SocksClient(socks.boundAddress());
        assertThat(c.greet(SocksClient.NO_AUTH, SocksClient.PASSWORD)).isEqualTo(SocksClient.PASSWORD);
        assertThat(c.login("app", "app-token")).isZero();
        return c;
    }

    private static void echoes(SocksClient c, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        c.out().write(bytes);
        c.out().flush();
        byte[] back = new byte[bytes.length];
        c.in().readFully(back);
        assertThat(new String(back, StandardCharsets.US_ASCII)).isEqualTo(text);
    }

    private static Decision lastDecision() {
        await().atMost(Duration.ofSeconds(5)).until(() -> !listener.decided.isEmpty());
        RecordingListener.Decided d = listener.decided.get(listener.decided.size() - 1);
        assertThat(d.protocol()).isEqualTo(Protocol.SOCKS5);
        return d.decision();
    }

    @Test
    void credentialsIdentifyTheServerAndTheStreamIsSplicedPinnedAndAudited() throws Exception {
        try (SocksClient c = loggedIn()) {
            assertThat(c.requestName(SocksClient.CONNECT, "api.test", echo.port())).isZero();
            assertThat(c.bound.getAddress().isLoopbackAddress()).isTrue();
            echoes(c, "hello, database");
        }
        Decision d = lastDecision();
        assertThat(d.allowed()).isTrue();
        assertThat(d.server()).isEqualTo("app");
        assertThat(d.host()).isEqualTo("api.test");
        assertThat(d.address()).isEqualTo(InetAddress.getByName("127.0.0.1"));
        // Loopback passes only through the cidr rule, so that is the rule that allowed the address.
        assertThat(d.rule()).endsWith("app.yaml#allow[5]");
        await().atMost(Duration.ofSeconds(5)).until(() -> listener.closed.size() == 1);
        RecordingListener.Closed closed = listener.closed.get(0);
        assertThat(closed.protocol()).isEqualTo(Protocol.SOCKS5);
        assertThat(closed.bytesSent()).isEqualTo(15);
        assertThat(closed.bytesReceived()).isEqualTo(15);
        assertThat(resolver.calls("api.test")).isPositive();
    }

    @Test
    void bytesSentBeforeTheReplyGoUpstreamFirst() throws Exception {
        try (SocksClient c = loggedIn()) {
            byte[] name = "api.test".getBytes(StandardCharsets.US_ASCII);
            byte[] request = new byte[7 + name.length + 5];
            request[0] = 5;
            request[1] = 1;
            request[3] = 3;
            request[4] = (byte) name.length;
            System.arraycopy(name, 0, request, 5, name.length);
            request[5 + name.length] = (byte) (echo.port() >> 8);
            request[6 + name.length] = (byte) echo.port();
            System.arraycopy("early".getBytes(StandardCharsets.US_ASCII), 0, request, 7 + name.length, 5);
            assertThat(c.requestRaw(request)).isZero();
            byte[] back = new byte[5];
            c.in().readFully(back);
            assertThat(new String(back, StandardCharsets.US_ASCII)).isEqualTo("early");
            echoes(c, " and later");
        }
    }

    @Test
    void wrongCredentialsFailAuthenticationAndClose() throws Exception {
        try (SocksClient c = new SocksClient(socks.boundAddress())) {
            assertThat(c.greet(SocksClient.NO_AUTH, SocksClient.PASSWORD)).isEqualTo(SocksClient.PASSWORD);
            assertThat(c.login("app", "wrong")).isNotZero();
            assertThat(c.closedByServer()).isTrue();
        }
        Decision d = lastDecision();
        assertThat(d.allowed()).isFalse();
        assertThat(d.reason()).isEqualTo(Reason.BAD_CREDENTIALS);
        try (SocksClient c = new SocksClient(socks.boundAddress())) {
            c.greet(SocksClient.PASSWORD);
            assertThat(c.login("nobody", "app-token")).isNotZero();
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void aClientItsSourceIdentifiesIsNotAskedForCredentials() throws Exception {
        // Java's SOCKS client offers username/password even without any; by source it needs none.
        try (SocksClient c = new SocksClient(socks.boundAddress(), "127.0.0.5")) {
            assertThat(c.greet(SocksClient.NO_AUTH, SocksClient.PASSWORD)).isEqualTo(SocksClient.NO_AUTH);
            assertThat(c.requestName(SocksClient.CONNECT, "api.test", echo.port())).isZero();
            echoes(c, "by source");
        }
        assertThat(lastDecision().server()).isEqualTo("local");
    }

    @Test
    void anUnidentifiedClientWithoutCredentialsIsRefused() throws Exception {
        try (SocksClient c = new SocksClient(socks.boundAddress())) {
            assertThat(c.greet(SocksClient.NO_AUTH)).isEqualTo(SocksClient.NO_AUTH);
            assertThat(c.requestName(SocksClient.CONNECT, "api.test", echo.port())).isEqualTo(2);
            assertThat(c.closedByServer()).isTrue();
        }
        Decision d = lastDecision();
        assertThat(d.reason()).isEqualTo(Reason.UNKNOWN_CLIENT);
        assertThat(d.server()).isNull();
    }

    @Test
    void noAcceptableMethodIsFfAndClose() throws Exception {
        try (SocksClient c = new SocksClient(socks.boundAddress())) {
            assertThat(c.greet(0x01)).isEqualTo(0xFF); // GSSAPI only
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void bindAndUdpAssociateAreNotSupported() throws Exception {
        int accepts = echo.accepts();
        for (int command : new int[] {SocksClient.BIND, SocksClient.UDP_ASSOCIATE}) {
            try (SocksClient c = loggedIn()) {
                assertThat(c.requestName(command, "api.test", echo.port())).isEqualTo(7);
                assertThat(c.closedByServer()).isTrue();
            }
        }
        assertThat(echo.accepts()).as("no upstream connection for either").isEqualTo(accepts);
    }

    @Test
    void aDeniedNameIs02AndIsNeverResolved() throws Exception {
        try (SocksClient c = loggedIn()) {
            assertThat(c.requestName(SocksClient.CONNECT, "evil.test", echo.port())).isEqualTo(2);
            assertThat(c.closedByServer()).isTrue();
        }
        Decision d = lastDecision();
        assertThat(d.reason()).isEqualTo(Reason.HOST_NOT_ALLOWED);
        assertThat(d.host()).isEqualTo("evil.test");
        assertThat(resolver.calls("evil.test")).isZero();
        try (SocksClient c = loggedIn()) {
            assertThat(c.requestName(SocksClient.CONNECT, "api.test", echo.port() == 1 ? 2 : 1)).isEqualTo(2);
        }
        assertThat(lastDecision().reason()).isEqualTo(Reason.PORT_NOT_ALLOWED);
    }

    @Test
    void addressesNeedACidrRuleForThePort() throws Exception {
        try (SocksClient c = loggedIn()) {
            assertThat(c.requestAddress(SocksClient.CONNECT, InetAddress.getByName("127.0.0.9"), echo.port()))
                    .isEqualTo(2);
        }
        assertThat(lastDecision().reason()).isEqualTo(Reason.IP_LITERAL_NOT_ALLOWED);
        try (SocksClient c = loggedIn()) {
            assertThat(c.requestAddress(SocksClient.CONNECT, InetAddress.getByName("::1"), closedPort))
                    .isEqualTo(2);
        }
        Decision v6 = lastDecision();
        assertThat(v6.reason()).isEqualTo(Reason.PORT_NOT_ALLOWED);
        assertThat(v6.host()).isEqualTo("[::1]");
        try (SocksClient c = loggedIn()) {
            assertThat(c.requestAddress(SocksClient.CONNECT, InetAddress.getByName("127.0.0.1"), echo.port()))
                    .isZero();
            echoes(c, "by cidr");
        }
        assertThat(lastDecision().rule()).endsWith("app.yaml#allow[5]");
    }

    @Test
    void aNameOfAnIpv6AddressIsVettedAndDialed() throws Exception {
        try (SocksClient c = loggedIn()) {
            int reply = c.requestName(SocksClient.CONNECT, "v6.test", echo.port());
            // The echo server listens on 127.0.0.1 only: the vetted [::1] is dialed and refuses.
            assertThat(reply).isEqualTo(5);
        }
        Decision d = lastDecision();
        assertThat(d.allowed()).isTrue();
        assertThat(d.address()).isEqualTo(InetAddress.getByName("::1"));
    }

    @Test
    void invalidNamesAndUnknownAddressTypesAreRefused() throws Exception {
        // Netty's decoder already refuses a name IDNA cannot read: a malformed request, general failure.
        try (SocksClient c = loggedIn()) {
            assertThat(c.requestName(SocksClient.CONNECT, "bad..name", echo.port())).isEqualTo(1);
            assertThat(c.closedByServer()).isTrue();
        }
        // A name the policy's canonicalizer refuses: not allowed by ruleset, audited.
        try (SocksClient c = loggedIn()) {
            assertThat(c.requestName(SocksClient.CONNECT, "2130706433", echo.port())).isEqualTo(2);
        }
        assertThat(lastDecision().reason()).isEqualTo(Reason.INVALID_HOST);
        try (SocksClient c = loggedIn()) {
            assertThat(c.requestRaw((byte) 5, (byte) 1, (byte) 0, (byte) 9, (byte) 1, (byte) 2)).isEqualTo(8);
        }
    }

    @Test
    void anAllowedAddressWithNoRouteToDialIsRefused02AuditedAndNeverDialed() throws Exception {
        // The rules allow 127.0.0.3; the test network has no route to it, standing in for an allowed
        // decision egressd cannot dial (no address to pin): refused like any other refusal.
        try (SocksClient c = loggedIn()) {
            assertThat(c.requestName(SocksClient.CONNECT, "noroute.test", echo.port())).isEqualTo(2);
            assertThat(c.closedByServer()).isTrue();
        }
        Decision d = lastDecision();
        assertThat(d.allowed()).isFalse();
        assertThat(d.reason()).isEqualTo(Reason.ADDRESS_NOT_ALLOWED);
        assertThat(d.server()).isEqualTo("app");
        assertThat(d.host()).isEqualTo("noroute.test");
        assertThat(d.port()).isEqualTo(echo.port());
        assertThat(listener.decided).hasSize(1);
        assertThat(listener.closed).isEmpty();
        assertThat(listener.upstreamConnects).isEmpty();
    }

    @Test
    void aRefusedUpstreamIs05() throws Exception {
        try (SocksClient c = loggedIn()) {
            assertThat(c.requestName(SocksClient.CONNECT, "closed.test", closedPort)).isEqualTo(5);
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(lastDecision().allowed()).isTrue();
        await().atMost(Duration.ofSeconds(5)).until(() -> listener.closed.size() == 1);
        assertThat(listener.closed.get(0).bytesSent()).isZero();
    }

    @Test
    void anUpstreamThatDoesNotAnswerIs04AfterTheConnectTimeout() throws Exception {
        long start = System.nanoTime();
        try (SocksClient c = loggedIn()) {
            assertThat(c.requestName(SocksClient.CONNECT, "slow.test", fullBacklog.getLocalPort())).isEqualTo(4);
        }
        assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(1900);
    }

    @Test
    void aLookupThatNeverAnswersIs04AfterTheConnectTimeout() throws Exception {
        long start = System.nanoTime();
        try (SocksClient c = loggedIn()) {
            assertThat(c.requestName(SocksClient.CONNECT, "hang.test", echo.port())).isEqualTo(4);
        }
        assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(1900);
    }

    @Test
    void aSidecarListenerIsItsServerWithoutCredentials() throws Exception {
        try (SocksProxy sidecar = SocksProxy.start(settings().withBoundServer("app"), policy::get, listener,
                resolver, null, new TestNetwork());
             SocksClient c = new SocksClient(sidecar.boundAddress())) {
            assertThat(c.greet(SocksClient.NO_AUTH, SocksClient.PASSWORD)).isEqualTo(SocksClient.NO_AUTH);
            assertThat(c.requestName(SocksClient.CONNECT, "api.test", echo.port())).isZero();
            echoes(c, "sidecar");
        }
        assertThat(lastDecision().server()).isEqualTo("app");
    }

    @Test
    void connectionsBeyondTheLimitAreClosedAtAccept() throws Exception {
        try (SocksProxy limited = SocksProxy.start(settings().withMaxConnections(1), policy::get, listener,
                resolver, null, new TestNetwork());
             SocksClient first = new SocksClient(limited.boundAddress())) {
            // Answered, so counted, before the second connection opens.
            assertThat(first.greet(SocksClient.PASSWORD)).isEqualTo(SocksClient.PASSWORD);
            try (SocksClient second = new SocksClient(limited.boundAddress())) {
                assertThat(second.closedByServer()).isTrue(); // unread: not even the greeting is answered
            }
            assertThat(listener.rejected).containsExactly("socks5/max_connections");
            assertThat(listener.decided).isEmpty();
            assertThat(limited.openConnections()).isEqualTo(1);
        }
    }

    @Test
    void aQuietStreamIsClosedAfterTheIdleTimeout() throws Exception {
        try (SocksProxy idle = SocksProxy.start(settings().withIdleTimeout(Duration.ofSeconds(1)), policy::get,
                listener, resolver, null, new TestNetwork());
             SocksClient c = new SocksClient(idle.boundAddress())) {
            c.greet(SocksClient.PASSWORD);
            c.login("app", "app-token");
            assertThat(c.requestName(SocksClient.CONNECT, "api.test", echo.port())).isZero();
            echoes(c, "busy");
            long quietSince = System.nanoTime();
            assertThat(c.closedByServer()).isTrue();
            assertThat((System.nanoTime() - quietSince) / 1_000_000).isBetween(900L, 5000L);
        }
    }
}
