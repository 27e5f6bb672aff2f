package io.egressd.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyRequestedFor;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.ok;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.egressd.policy.Decision;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HTTPS through CONNECT tunnels to WireMock's TLS port, and what happens when the upstream fails. */
class ConnectProxyTest {

    @TempDir
    static Path dir;

    static WireMockServer upstream;
    static ProxyFixture fx;
    static Policy standard;
    static byte[] big;
    static int closedPort;
    static ServerSocket fullBacklog;
    static final List<Socket> backlogFillers = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        upstream = new WireMockServer(wireMockConfig().bindAddress("127.0.0.1").dynamicPort().dynamicHttpsPort()
                .jettyAcceptors(1));
        upstream.start();
        big = new byte[512 * 1024];
        new Random(3).nextBytes(big);
        upstream.stubFor(get("/big").willReturn(aResponse().withStatus(200).withBody(big)));
        upstream.stubFor(any(anyUrl()).atPriority(10).willReturn(ok("hello over tls")));

        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort(); // closed again: connections to it are refused
        }
        fullBacklog = fullBacklogListener();

        int tls = upstream.httpsPort();
        int slow = fullBacklog.getLocalPort();
        standard = Allowlist.load(dir,
                Allowlist.server("app").credentials("app", "app-token")
                        .host("api.test", tls).host("closed.test", closedPort).host("slow.test", slow)
                        .host("nowhere.test", tls).host("plain.test", slow)
                        .cidr("127.0.0.1/32", tls, closedPort, slow));
        fx = new ProxyFixture(standard, new LoopbackResolver()
                .answer("api.test", "127.0.0.1").answer("closed.test", "127.0.0.1")
                .answer("slow.test", "127.0.0.1").answer("plain.test", "127.0.0.1"));
    }

    /**
     * A listener whose accept queue is full: it never accepts, so a further connection attempt
     * gets no answer at all and times out, on loopback.
     */
    static ServerSocket fullBacklogListener() throws IOException {
        return FullBacklog.listener(backlogFillers);
    }

    @AfterAll
    static void stop() throws IOException {
        fx.close();
        upstream.stop();
        for (Socket s : backlogFillers) {
            s.close();
        }
        fullBacklog.close();
    }

    @BeforeEach
    void reset() {
        fx.policy.set(standard);
        fx.listener.clear();
        upstream.resetRequests();
    }

    String url(String path) {
        return "https://api.test:" + upstream.httpsPort() + path;
    }

    @Test
    void curlThroughHttpsProxyGetsTheBodyIntact() throws Exception {
        Curl.Result result = Curl.run(dir, fx.url("app", "app-token"), url("/big"));

        assertThat(result.connect()).as(result.stderr()).isEqualTo(200);
        assertThat(result.status()).isEqualTo(200);
        assertThat(result.bytes()).isEqualTo(big);
        await().atMost(Duration.ofSeconds(5)).until(() -> !fx.listener.closed.isEmpty());
        RecordingListener.Closed closed = fx.listener.closed.get(0);
        assertThat(closed.protocol()).isEqualTo(Protocol.CONNECT);
        assertThat(closed.bytesReceived()).isGreaterThan(big.length); // TLS adds to it
        // One tunnel, one upstream connection timed for egressd_upstream_connect_seconds.
        assertThat(fx.listener.upstreamConnects).containsExactly(Protocol.CONNECT);
    }

    @Test
    void javaHttpClientThroughConnectWithAnAuthenticator() throws Exception {
        HttpClient client = fx.client()
                .authenticator(PlainHttpProxyTest.proxyCredentials("app", "app-token")).build();

        HttpResponse<byte[]> response = client.send(HttpRequest.newBuilder(URI.create(url("/big"))).build(),
                HttpResponse.BodyHandlers.ofByteArray());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo(big);
        List<LoggedRequest> seen = upstream.findAll(anyRequestedFor(anyUrl()));
        assertThat(seen).hasSize(1);
        assertThat(seen.get(0).getHeaders().keys()).noneMatch(h -> h.toLowerCase().startsWith("proxy-"));
        Decision decision = fx.listener.lastFor("api.test");
        assertThat(decision.allowed()).isTrue();
        // The first CONNECT carried no credentials (407), the retry did.
        assertThat(fx.listener.decided).extracting(RecordingListener.Decided::protocol)
                .containsOnly(Protocol.CONNECT);
        assertThat(fx.listener.decided.get(0).decision().allowed()).isFalse();
    }

    static final String APP = RawHttp.basic("app", "app-token");

    @Test
    void connectWithoutAPortIsInvalidHostAndClosed() throws Exception {
        RawHttp.Response response = RawHttp.send(fx.address(),
                "CONNECT api.test HTTP/1.1\r\nHost: api.test\r\nProxy-Authorization: " + APP + "\r\n\r\n");

        assertThat(response.status()).isEqualTo(403);
        assertThat(response.header("X-Egressd-Denied")).isEqualTo("invalid_host");
        assertThat(response.header("Connection")).isEqualTo("close");
        assertThat(response.closed()).isTrue();
    }

    @Test
    void aRefusedConnectSays403WhyAndCloses() throws Exception {
        RawHttp.Response response = RawHttp.send(fx.address(),
                "CONNECT github.com:443 HTTP/1.1\r\nHost: github.com:443\r\nProxy-Authorization: " + APP
                        + "\r\n\r\n");

        assertThat(response.status()).isEqualTo(403);
        assertThat(response.header("X-Egressd-Denied")).isEqualTo("host_not_allowed");
        assertThat(response.header("Connection")).isEqualTo("close");
        assertThat(response.header("Content-Type")).startsWith("text/plain");
        assertThat(response.body()).contains("github.com:443").contains("server: app")
                .contains("reason: host_not_allowed");
        assertThat(response.closed()).isTrue();
        assertThat(fx.resolver.calls("github.com")).isZero();
    }

    @Test
    void aRefusedUpstreamIs502() throws Exception {
        Curl.Result viaCurl = Curl.run(dir, fx.url("app", "app-token"), "https://closed.test:" + closedPort + "/");
        RawHttp.Response raw = RawHttp.send(fx.address(), "CONNECT closed.test:" + closedPort
                + " HTTP/1.1\r\nProxy-Authorization: " + APP + "\r\n\r\n");

        assertThat(viaCurl.connect()).isEqualTo(502);
        assertThat(raw.status()).isEqualTo(502);
        assertThat(raw.closed()).isTrue();
        // Allowed, then closed with nothing carried: the audit trail stays balanced.
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.listener.closed.size() == 2);
        assertThat(fx.listener.closed).allSatisfy(c -> assertThat(c.bytesSent() + c.bytesReceived()).isZero());
    }

    @Test
    void anUpstreamThatDoesNotAnswerIs504AfterTheConnectTimeout() throws Exception {
        long start = System.nanoTime();
        RawHttp.Response tunnel = RawHttp.send(fx.address(), "CONNECT slow.test:" + fullBacklog.getLocalPort()
                + " HTTP/1.1\r\nProxy-Authorization: " + APP + "\r\n\r\n");
        long tunnelMillis = (System.nanoTime() - start) / 1_000_000;
        RawHttp.Response plain = RawHttp.send(fx.address(), "GET http://plain.test:" + fullBacklog.getLocalPort()
                + "/ HTTP/1.1\r\nHost: plain.test:" + fullBacklog.getLocalPort()
                + "\r\nProxy-Authorization: " + APP + "\r\n\r\n");

        assertThat(tunnel.status()).isEqualTo(504);
        assertThat(tunnel.body()).contains("timed out");
        assertThat(tunnel.closed()).isTrue();
        assertThat(tunnelMillis).isGreaterThanOrEqualTo(1900); // the fixture's 2s connect timeout
        assertThat(plain.status()).isEqualTo(504);
    }

    @Test
    void aNameThatDoesNotResolveIs502() throws Exception {
        RawHttp.Response raw = RawHttp.send(fx.address(), "CONNECT nowhere.test:" + upstream.httpsPort()
                + " HTTP/1.1\r\nProxy-Authorization: " + APP + "\r\n\r\n");

        assertThat(raw.status()).isEqualTo(502);
        assertThat(raw.body()).contains("nowhere.test does not resolve");
        assertThat(fx.resolver.calls("nowhere.test")).isEqualTo(1);
    }

    @Test
    void aConnectWithoutCredentialsGets407AndAClose() throws Exception {
        // HTTP decoding stops at a CONNECT head, so the retry with credentials needs a new
        // connection (java.net.http opens one anyway, see the authenticator test above).
        RawHttp.Response response = RawHttp.send(fx.address(), "CONNECT api.test:" + upstream.httpsPort()
                + " HTTP/1.1\r\n\r\n");

        assertThat(response.status()).isEqualTo(407);
        assertThat(response.header("Proxy-Authenticate")).isEqualTo("Basic realm=\"egressd\"");
        assertThat(response.header("Connection")).isEqualTo("close");
        assertThat(response.closed()).isTrue();
    }

    @Test
    void bytesSentWithTheConnectHeadGet400AndAClose() throws Exception {
        try (EchoServer echo = new EchoServer("127.0.0.1");
             ProxyFixture early = new ProxyFixture(
                     Allowlist.load(dir, Allowlist.server("app").credentials("app", "app-token")
                             .cidr("127.0.0.1/32", echo.port())),
                     new LoopbackResolver())) {
            String head = "CONNECT 127.0.0.1:" + echo.port() + " HTTP/1.1\r\nProxy-Authorization: " + APP
                    + "\r\n\r\n";
            // One write each, so the proxy reads the head and what follows it together.
            RawHttp.Response request = RawHttp.send(early.address(), head
                    + "GET http://127.0.0.1:" + echo.port() + "/smuggled HTTP/1.1\r\n\r\n");
            // A TLS record header: an HTTP decoder skips its control bytes and waits for a line end.
            RawHttp.Response binary = RawHttp.send(early.address(), head + "\u0016\u0003\u0001\u0000\u0005hello");

            for (RawHttp.Response r : List.of(request, binary)) {
                assertThat(r.status()).isEqualTo(400);
                assertThat(r.body()).contains("before the CONNECT was answered");
                assertThat(r.closed()).isTrue();
            }
        }
    }

    @Test
    void aQuietTunnelLivesUntilTheIdleTimeoutAndNoLonger() throws Exception {
        try (EchoServer echo = new EchoServer("127.0.0.1");
             ProxyFixture idle = idleProxy(1, echo.port());
             Socket tunnel = RawHttp.tunnel(idle.address(), "127.0.0.1:" + echo.port(), APP)) {
            tunnel.setSoTimeout(5000);

            // Busy for 2.5s, well past the idle timeout: traffic keeps it open.
            for (int i = 0; i < 10; i++) {
                assertThat(echoOnce(tunnel, i)).isTrue();
                Thread.sleep(250);
            }
            // Quiet for less than the timeout: still open.
            Thread.sleep(500);
            assertThat(echoOnce(tunnel, 99)).isTrue();
            // Quiet for longer: the proxy closes it.
            long quietSince = System.nanoTime();
            assertThat(tunnel.getInputStream().read()).isEqualTo(-1);
            long quietMillis = (System.nanoTime() - quietSince) / 1_000_000;
            assertThat(quietMillis).isBetween(900L, 4000L);
        }
    }

    @Test
    void aQuietTunnelAfterAPlainRequestOnTheSameConnectionIsClosedAtTheIdleTimeoutAndReported() throws Exception {
        // A plain request first leaves LittleProxy holding an upstream connection (here one that
        // refused: 502, connection kept) by which it would judge idleness; the tunnel after it is
        // the gate's own, and the gate closes it when it goes quiet.
        try (EchoServer echo = new EchoServer("127.0.0.1");
             ProxyFixture idle = idleProxy(1, echo.port(), closedPort);
             Socket client = new Socket()) {
            client.connect(idle.address(), 5000);
            client.setSoTimeout(5000);
            client.getOutputStream().write(("GET http://127.0.0.1:" + closedPort + "/ HTTP/1.1\r\nHost: 127.0.0.1:"
                    + closedPort + "\r\nProxy-Authorization: " + APP + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            RawHttp.Response refused = RawHttp.read(client, false);
            assertThat(refused.status()).isEqualTo(502);
            client.getOutputStream().write(("CONNECT 127.0.0.1:" + echo.port() + " HTTP/1.1\r\nHost: 127.0.0.1:"
                    + echo.port() + "\r\nProxy-Authorization: " + APP + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            assertThat(RawHttp.read(client, false).status()).isEqualTo(200);
            assertThat(echoOnce(client, 7)).isTrue();

            long quietSince = System.nanoTime();
            assertThat(client.getInputStream().read()).isEqualTo(-1);
            assertThat((System.nanoTime() - quietSince) / 1_000_000).isBetween(900L, 4000L);
            await().atMost(Duration.ofSeconds(5)).until(() -> idle.listener.rejected.contains("http/idle_timeout"));
        }
    }

    @Test
    void aTunnelWhereOnlyTheUpstreamSpeaksLivesPastTheIdleTimeout() throws Exception {
        // An SSE stream: the client sends nothing after its request, the upstream a byte every 300ms.
        // The idle timeout of 2s leaves a loaded machine room between two events.
        try (ServerSocket sse = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
             ProxyFixture idle = idleProxy(2, sse.getLocalPort())) {
            Thread events = new Thread(() -> {
                try (Socket s = sse.accept()) {
                    for (int i = 0; i < 20; i++) {
                        s.getOutputStream().write('a' + i);
                        s.getOutputStream().flush();
                        Thread.sleep(300);
                    }
                    s.getInputStream().read(); // then quiet until the proxy closes the tunnel
                } catch (IOException | InterruptedException e) {
                    // the tunnel closed: nothing more to send
                }
            }, "sse-upstream");
            events.setDaemon(true);
            events.start();
            try (Socket tunnel = RawHttp.tunnel(idle.address(), "127.0.0.1:" + sse.getLocalPort(), APP)) {
                tunnel.setSoTimeout(5000);
                InputStream in = tunnel.getInputStream();
                long start = System.nanoTime();
                // 20 events over 6s, three idle timeouts' worth: the upstream's traffic keeps the tunnel open.
                for (int i = 0; i < 20; i++) {
                    assertThat(in.read()).as("event " + i).isEqualTo('a' + i);
                }
                assertThat((System.nanoTime() - start) / 1_000_000).isGreaterThanOrEqualTo(5500);
                // Once the stream goes quiet too, the idle timeout closes it.
                assertThat(in.read()).isEqualTo(-1);
            }
        }
    }

    @Test
    void aQuietTunnelOutlivesTheHeaderTimeout() throws Exception {
        try (EchoServer echo = new EchoServer("127.0.0.1");
             ProxyFixture quiet = new ProxyFixture(
                     Allowlist.load(dir, Allowlist.server("app").credentials("app", "app-token")
                             .cidr("127.0.0.1/32", echo.port())),
                     new LoopbackResolver(),
                     ProxyFixture.settings().withHeaderTimeout(Duration.ofSeconds(1))
                             .withIdleTimeout(Duration.ofSeconds(10)));
             Socket tunnel = RawHttp.tunnel(quiet.address(), "127.0.0.1:" + echo.port(), APP)) {
            tunnel.setSoTimeout(5000);

            // Twice the header timeout with nothing sent: a tunnel is not a request head in waiting.
            Thread.sleep(2000);

            assertThat(echoOnce(tunnel, 42)).isTrue();
            assertThat(quiet.listener.rejected).isEmpty();
        }
    }

    /** A proxy with the given idle timeout (seconds) whose server "app" may reach loopback on {@code ports}. */
    private static ProxyFixture idleProxy(int idleSeconds, int... ports) throws IOException {
        return new ProxyFixture(Allowlist.load(dir, Allowlist.server("app").credentials("app", "app-token")
                .cidr("127.0.0.1/32", ports)), new LoopbackResolver(),
                ProxyFixture.settings().withIdleTimeout(Duration.ofSeconds(idleSeconds)));
    }

    private static boolean echoOnce(Socket tunnel, int value) throws IOException {
        tunnel.getOutputStream().write(value);
        tunnel.getOutputStream().flush();
        return tunnel.getInputStream().read() == value;
    }
}
