package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.policy.Decision;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.littleshoot.proxy.HttpFilters;

/** Errors and limits end in an answer with a reason, never in a silently dropped connection. */
class FailClosedTest {

    @TempDir
    static Path dir;

    static CountingHttpServer upstream;
    static Policy policy;
    static final String APP = RawHttp.basic("app", "app-token");

    @BeforeAll
    static void start() throws Exception {
        upstream = new CountingHttpServer("127.0.0.1", 0, "upstream");
        policy = Allowlist.load(dir, Allowlist.server("app").credentials("app", "app-token")
                .host("api.test", upstream.port()).host("broken.test", upstream.port())
                .cidr("127.0.0.1/32", upstream.port()));
    }

    @AfterAll
    static void stop() {
        upstream.close();
    }

    String get(String host) {
        return "GET http://" + host + ":" + upstream.port() + "/ HTTP/1.1\r\nHost: " + host + ":" + upstream.port()
                + "\r\nProxy-Authorization: " + APP + "\r\n\r\n";
    }

    @Test
    void aPolicyThatThrowsGives403WithAReasonAndIsReportedLikeAnyRefusal() throws Exception {
        int before = upstream.accepts();
        RecordingListener listener = new RecordingListener();
        try (EgressProxy proxy = EgressProxy.start(ProxyFixture.settings(), () -> {
            throw new IllegalStateException("policy exploded");
        }, listener, new LoopbackResolver(), InetAddress::isLoopbackAddress)) {
            RawHttp.Response response = RawHttp.send(proxy.boundAddress(), get("api.test"));
            RawHttp.Response tunnel = RawHttp.send(proxy.boundAddress(), "CONNECT api.test:" + upstream.port()
                    + " HTTP/1.1\r\nProxy-Authorization: " + APP + "\r\n\r\n");

            assertThat(response.status()).isEqualTo(403);
            assertThat(response.header("X-Egressd-Denied")).isEqualTo("invalid_host");
            assertThat(response.body()).contains("reason: invalid_host");
            assertThat(response.closed()).isTrue();
            assertThat(tunnel.status()).isEqualTo(403);
            assertThat(tunnel.header("X-Egressd-Denied")).isEqualTo("invalid_host");
            assertThat(tunnel.header("Connection")).isEqualTo("close");
        }
        assertThat(upstream.accepts()).isEqualTo(before);
        // Denials are always audited and counted: the daemon's listener hears of these two as of any other.
        assertThat(listener.decided).extracting(RecordingListener.Decided::protocol)
                .containsExactly(Protocol.HTTP, Protocol.CONNECT);
        assertThat(listener.decided).allSatisfy(d -> {
            assertThat(d.decision().allowed()).isFalse();
            assertThat(d.decision().reason()).isEqualTo(io.egressd.policy.Reason.INVALID_HOST);
            assertThat(d.client().getAddress().isLoopbackAddress()).isTrue();
        });
    }

    @Test
    void aResolverThatThrowsOrFailsGives502() throws Exception {
        int before = upstream.accepts();
        AsyncNameResolver broken = name -> {
            if (name.equals("broken.test")) {
                throw new IllegalStateException("resolver exploded");
            }
            return CompletableFuture.failedFuture(new IllegalStateException("resolver failed"));
        };
        try (EgressProxy proxy = EgressProxy.start(ProxyFixture.settings(), () -> policy, EgressListener.NONE,
                broken, InetAddress::isLoopbackAddress)) {
            for (String host : List.of("broken.test", "api.test")) {
                RawHttp.Response response = RawHttp.send(proxy.boundAddress(), get(host));
                assertThat(response.status()).as(host).isEqualTo(502);
                assertThat(response.body()).contains(host + " does not resolve");
            }
        }
        assertThat(upstream.accepts()).isEqualTo(before);
    }

    @Test
    void anAllowedAddressWithNoRouteToDialIs502AndAuditedAsARefusal() throws Exception {
        int before = upstream.accepts();
        RecordingListener listener = new RecordingListener();
        try (EgressProxy proxy = EgressProxy.start(ProxyFixture.settings(), () -> policy, listener,
                new LoopbackResolver().answer("api.test", "127.0.0.1"), address -> false)) {
            RawHttp.Response response = RawHttp.send(proxy.boundAddress(), get("api.test"));
            RawHttp.Response tunnel = RawHttp.send(proxy.boundAddress(), "CONNECT api.test:" + upstream.port()
                    + " HTTP/1.1\r\nProxy-Authorization: " + APP + "\r\n\r\n");

            assertThat(response.status()).isEqualTo(502);
            assertThat(response.body()).contains("no dialable address for api.test");
            assertThat(tunnel.status()).isEqualTo(502);
        }
        assertThat(upstream.accepts()).isEqualTo(before);
        assertThat(listener.decided).extracting(RecordingListener.Decided::protocol)
                .containsExactly(Protocol.HTTP, Protocol.CONNECT);
        assertThat(listener.decided).allSatisfy(d -> {
            assertThat(d.decision().allowed()).isFalse();
            assertThat(d.decision().reason()).isEqualTo(io.egressd.policy.Reason.ADDRESS_NOT_ALLOWED);
            assertThat(d.decision().host()).isEqualTo("api.test");
        });
    }

    @Test
    void aListenerThatThrowsDoesNotCostTheClientItsAnswer() throws Exception {
        EgressListener throwing = new EgressListener() {
            @Override
            public void decided(Protocol protocol, InetSocketAddress client, Decision decision) {
                throw new IllegalStateException("audit exploded");
            }

            @Override
            public void closed(Protocol protocol, InetSocketAddress client, Decision decision, long sent,
                               long received, long millis) {
                throw new IllegalStateException("audit exploded");
            }
        };
        try (EgressProxy proxy = EgressProxy.start(ProxyFixture.settings(), () -> policy, throwing,
                new LoopbackResolver().answer("api.test", "127.0.0.1"), InetAddress::isLoopbackAddress)) {
            RawHttp.Response allowed = RawHttp.send(proxy.boundAddress(), get("api.test"));
            RawHttp.Response denied = RawHttp.send(proxy.boundAddress(), get("denied.test"));

            assertThat(allowed.status()).isEqualTo(200);
            assertThat(allowed.body()).isEqualTo("hello from upstream");
            assertThat(denied.status()).isEqualTo(403);
        }
    }

    @Test
    void connectionsBeyondTheLimitAreClosedAtAcceptUnread() throws Exception {
        try (EchoServer echo = new EchoServer("127.0.0.1");
             ProxyFixture fx = new ProxyFixture(Allowlist.load(dir, Allowlist.server("app")
                     .credentials("app", "app-token").cidr("127.0.0.1/32", echo.port())), new LoopbackResolver(),
                     ProxyFixture.settings().withMaxConnections(1))) {
            try (Socket held = RawHttp.tunnel(fx.address(), "127.0.0.1:" + echo.port(), APP);
                 Socket refused = new Socket()) {
                refused.connect(fx.address(), 5000);

                assertThat(FloodLimitsTest.closedByPeer(refused, Duration.ofSeconds(5))).isTrue();
                assertThat(fx.proxy.openConnections()).isEqualTo(1);
                held.getOutputStream().write(7);
                assertThat(held.getInputStream().read()).isEqualTo(7);
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> fx.proxy.openConnections() == 0);
            try (Socket again = RawHttp.tunnel(fx.address(), "127.0.0.1:" + echo.port(), APP)) {
                again.getOutputStream().write(8);
                assertThat(again.getInputStream().read()).isEqualTo(8);
            }
        }
    }

    @Test
    void aRequestThatReachesLittleProxyWithoutADecisionIsRefusedThere() {
        EmbeddedChannel channel = new EmbeddedChannel(new ChannelInboundHandlerAdapter());
        ChannelHandlerContext ctx = channel.pipeline().firstContext();
        DefaultHttpRequest request = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET,
                "http://api.test/");

        HttpFilters filters = new PinnedFiltersSource().filterRequest(request, ctx);
        HttpResponse response = filters.clientToProxyRequest(request);

        assertThat(response.status().code()).isEqualTo(403);
        assertThat(filters.proxyToServerResolutionStarted("api.test:80")).isNull();
        channel.finishAndReleaseAll();
    }

    @Test
    void theSystemResolverAnswersFromTheOperatingSystem() throws Exception {
        // localhost comes from /etc/hosts: no query leaves the machine.
        List<InetAddress> addresses = AsyncNameResolver.system(Duration.ofSeconds(5)).resolve("localhost")
                .get();
        assertThat(addresses).isNotEmpty().allMatch(InetAddress::isLoopbackAddress);
    }
}
