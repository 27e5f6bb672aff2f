package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.policy.Decision;
import io.egressd.policy.Policy;
import io.egressd.policy.Reason;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9, item 2, the proxy's side: the DNS server behind the proxy's resolver is dead. The
 * proxy's production resolver ({@link SystemNameResolver}: /etc/hosts, then getaddrinfo on a
 * few threads) is used as it is, with its hosts file and its blocking lookup pointed at the
 * test's loopback DNS servers (never at this machine's resolv.conf): one refuses (a closed port),
 * one never answers. A refused lookup is 502 at once, a silent one 502 at the connect timeout;
 * each is audited as a refusal; and while more lookups hang than there are lookup threads,
 * requests for IP literals and for names in the hosts file go through at once.
 */
class NameResolutionFaultsTest {

    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(1);
    /** How long a lookup blocks its thread on the silent server: glibc's default timeout. */
    static final Duration GLIBC_WAIT = Duration.ofSeconds(5);
    static final int LOOKUP_THREADS = 8;
    static final String APP = RawHttp.basic("app", "app-token");

    @TempDir
    static Path dir;

    static CountingHttpServer upstream;
    static DatagramSocket silentServer;
    static InetSocketAddress refusingServer;
    static Path hosts;
    static Policy policy;

    @BeforeAll
    static void start() throws Exception {
        upstream = new CountingHttpServer("127.0.0.1", 0, "upstream");
        silentServer = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)); // never read
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            refusingServer = (InetSocketAddress) s.getLocalSocketAddress(); // closed again: queries are refused
        }
        hosts = Files.writeString(dir.resolve("hosts"), "127.0.0.1 localhost\n127.0.0.1 listed.test\n");
        int port = upstream.port();
        policy = Allowlist.load(dir, Allowlist.server("app").credentials("app", "app-token")
                .host("*.dead.test", port).host("listed.test", port).cidr("127.0.0.1/32", port));
    }

    @AfterAll
    static void stop() {
        upstream.close();
        silentServer.close();
    }

    static ProxyFixture proxyAsking(InetSocketAddress dnsServer) {
        SystemNameResolver resolver = new SystemNameResolver(CONNECT_TIMEOUT, LOOKUP_THREADS, hosts,
                new UnansweredDnsLookup(dnsServer, GLIBC_WAIT));
        return new ProxyFixture(policy, resolver,
                ProxyFixture.settings().withConnectTimeout(CONNECT_TIMEOUT));
    }

    static String get(String host) {
        String authority = host + ":" + upstream.port();
        return "GET http://" + authority + "/ HTTP/1.1\r\nHost: " + authority + "\r\nProxy-Authorization: " + APP
                + "\r\n\r\n";
    }

    static String connect(String host) {
        String authority = host + ":" + upstream.port();
        return "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\nProxy-Authorization: " + APP
                + "\r\n\r\n";
    }

    static RawHttp.Response timed(InetSocketAddress proxy, String request, Duration within) throws Exception {
        long start = System.nanoTime();
        RawHttp.Response response = RawHttp.send(proxy, request);
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(took).as("%s answered within %s", request.lines().findFirst().orElse(""), within)
                .isLessThan(within);
        return response;
    }

    @Test
    void aRefusingDnsServerMakesA502AtOnceForHttpAndConnect() throws Exception {
        int before = upstream.accepts();
        try (ProxyFixture fx = proxyAsking(refusingServer)) {
            RawHttp.Response plain = timed(fx.address(), get("api.dead.test"), CONNECT_TIMEOUT);
            RawHttp.Response tunnel = timed(fx.address(), connect("git.dead.test"), CONNECT_TIMEOUT);

            assertThat(plain.status()).isEqualTo(502);
            assertThat(plain.body()).contains("api.dead.test does not resolve");
            assertThat(tunnel.status()).isEqualTo(502);
            assertThat(tunnel.closed()).isTrue();
            assertLookupFailureAudited(fx, "api.dead.test");
            assertLookupFailureAudited(fx, "git.dead.test");
        }
        assertThat(upstream.accepts()).isEqualTo(before);
    }

    @Test
    void aSilentDnsServerMakesA502AtTheTimeoutWhileLiteralsAndListedNamesGoThrough() throws Exception {
        int before = upstream.accepts();
        ExecutorService clients = Executors.newCachedThreadPool();
        try (ProxyFixture fx = proxyAsking(new InetSocketAddress(InetAddress.getLoopbackAddress(),
                silentServer.getLocalPort()))) {
            // More hanging lookups than lookup threads: every thread is stuck on the silent server.
            List<CompletableFuture<RawHttp.Response>> hanging = new ArrayList<>();
            AtomicInteger sent = new AtomicInteger();
            long start = System.nanoTime();
            for (int i = 0; i < LOOKUP_THREADS + 4; i++) {
                String request = i % 2 == 0 ? get("n" + i + ".dead.test") : connect("n" + i + ".dead.test");
                hanging.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        sent.incrementAndGet();
                        return RawHttp.send(fx.address(), request);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }, clients));
            }
            await().atMost(Duration.ofSeconds(2)).until(() -> sent.get() == LOOKUP_THREADS + 4);
            Thread.sleep(200); // let them reach the resolver

            RawHttp.Response literal = timed(fx.address(), get("127.0.0.1"), Duration.ofMillis(500));
            RawHttp.Response listed = timed(fx.address(), get("listed.test"), Duration.ofMillis(500));
            assertThat(hanging).as("still waiting for DNS").noneMatch(CompletableFuture::isDone);

            assertThat(literal.status()).isEqualTo(200);
            assertThat(listed.status()).isEqualTo(200);
            assertThat(upstream.accepts() - before).as("only the literal and the listed name got through")
                    .isEqualTo(2);
            for (CompletableFuture<RawHttp.Response> h : hanging) {
                RawHttp.Response r = h.get(5, TimeUnit.SECONDS);
                assertThat(r.status()).as("unresolvable within the timeout: 502, not 504").isEqualTo(502);
                assertThat(r.body()).contains("timed out");
            }
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            assertThat(took).as("every hanging request answered at the connect timeout")
                    .isGreaterThanOrEqualTo(CONNECT_TIMEOUT.minusMillis(100))
                    .isLessThan(CONNECT_TIMEOUT.plusMillis(1500));
            assertLookupFailureAudited(fx, "n0.dead.test");
            assertLookupFailureAudited(fx, "n1.dead.test");
        } finally {
            clients.shutdownNow();
        }
    }

    @Test
    void aFailedLookupBehindSocks5IsHostUnreachableAndAudited() throws Exception {
        SystemNameResolver resolver = new SystemNameResolver(CONNECT_TIMEOUT, LOOKUP_THREADS, hosts,
                new UnansweredDnsLookup(refusingServer, GLIBC_WAIT));
        RecordingListener listener = new RecordingListener();
        try (SocksProxy socks = SocksProxy.start(ProxyFixture.settings(), () -> policy, listener, resolver, null,
                new TestNetwork());
             SocksClient c = new SocksClient(socks.boundAddress())) {
            assertThat(c.greet(SocksClient.PASSWORD)).isEqualTo(SocksClient.PASSWORD);
            assertThat(c.login("app", "app-token")).isZero();
            assertThat(c.requestName(SocksClient.CONNECT, "db.dead.test", upstream.port())).isEqualTo(0x04);

            await().atMost(Duration.ofSeconds(5)).until(() -> listener.lastFor("db.dead.test") != null);
            assertThat(listener.lastFor("db.dead.test").reason()).isEqualTo(Reason.ADDRESS_NOT_ALLOWED);
            assertThat(listener.decided).singleElement().satisfies(d ->
                    assertThat(d.protocol()).isEqualTo(io.egressd.policy.Protocol.SOCKS5));
        }
    }

    /** design.md section 7: every refusal is audited; a name that did not resolve left no address to allow. */
    static void assertLookupFailureAudited(ProxyFixture fx, String host) {
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.listener.lastFor(host) != null);
        Decision d = fx.listener.lastFor(host);
        assertThat(d.allowed()).isFalse();
        assertThat(d.reason()).isEqualTo(Reason.ADDRESS_NOT_ALLOWED);
        assertThat(d.server()).isEqualTo("app");
        assertThat(d.port()).isEqualTo(upstream.port());
        assertThat(d.address()).isNull();
    }
}
