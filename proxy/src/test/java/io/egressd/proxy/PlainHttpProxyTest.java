package io.egressd.proxy;

import static com.github.tomakehurst.wiremock.client.WireMock.aResponse;
import static com.github.tomakehurst.wiremock.client.WireMock.any;
import static com.github.tomakehurst.wiremock.client.WireMock.anyUrl;
import static com.github.tomakehurst.wiremock.client.WireMock.get;
import static com.github.tomakehurst.wiremock.client.WireMock.ok;
import static com.github.tomakehurst.wiremock.core.WireMockConfiguration.wireMockConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.github.tomakehurst.wiremock.WireMockServer;
import com.github.tomakehurst.wiremock.verification.LoggedRequest;
import io.egressd.policy.Decision;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import java.net.Authenticator;
import java.net.PasswordAuthentication;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Plain HTTP (absolute-form) through the proxy, with curl and java.net.http against WireMock. */
class PlainHttpProxyTest {

    @TempDir
    static Path dir;

    static WireMockServer upstream;
    static ProxyFixture fx;
    static io.egressd.policy.Policy standard;
    static byte[] big;

    @BeforeAll
    static void start() {
        upstream = new WireMockServer(wireMockConfig().bindAddress("127.0.0.1").dynamicPort().jettyAcceptors(1));
        upstream.start();
        big = new byte[256 * 1024];
        new Random(7).nextBytes(big);
        upstream.stubFor(get("/big").willReturn(aResponse().withStatus(200).withBody(big)));
        upstream.stubFor(any(anyUrl()).atPriority(10).willReturn(ok("hello from wiremock")));
        int port = upstream.port();
        standard = Allowlist.load(dir,
                Allowlist.server("app").credentials("app", "app-token")
                        .host("api.test", port).cidr("127.0.0.1/32", port),
                // Report mode never lifts the address floor: loopback is reachable for it only
                // because a cidr rule names 127.0.0.1 (on another port).
                Allowlist.server("reporter").report().credentials("reporter", "report-token")
                        .host("elsewhere.test", 443).cidr("127.0.0.1/32", 1));
        fx = new ProxyFixture(standard, new LoopbackResolver().answer("api.test", "127.0.0.1")
                .answer("floor.test", "127.0.0.2"));
    }

    @AfterAll
    static void stop() {
        fx.close();
        upstream.stop();
    }

    @BeforeEach
    void reset() {
        fx.policy.set(standard);
        fx.listener.clear();
        upstream.resetRequests();
    }

    String url(String path) {
        return "http://api.test:" + upstream.port() + path;
    }

    static Authenticator proxyCredentials(String user, String password) {
        return new Authenticator() {
            @Override
            protected PasswordAuthentication getPasswordAuthentication() {
                return getRequestorType() == RequestorType.PROXY
                        ? new PasswordAuthentication(user, password.toCharArray()) : null;
            }
        };
    }

    @Test
    void httpClientGetsTheBodyIntactAndTheCloseIsReportedWithBytes() throws Exception {
        HttpClient client = fx.client().authenticator(proxyCredentials("app", "app-token")).build();

        HttpResponse<byte[]> response = client.send(HttpRequest.newBuilder(URI.create(url("/big"))).build(),
                HttpResponse.BodyHandlers.ofByteArray());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo(big);
        Decision allowed = fx.listener.decided.stream().map(RecordingListener.Decided::decision)
                .filter(Decision::allowed).findFirst().orElseThrow();
        assertThat(allowed.server()).isEqualTo("app");
        assertThat(allowed.address().getHostAddress()).isEqualTo("127.0.0.1");
        await().atMost(Duration.ofSeconds(5)).until(() -> !fx.listener.closed.isEmpty());
        RecordingListener.Closed closed = fx.listener.closed.get(0);
        assertThat(closed.protocol()).isEqualTo(Protocol.HTTP);
        assertThat(closed.bytesReceived()).isEqualTo(big.length);
        assertThat(fx.listener.upstreamConnects).containsExactly(Protocol.HTTP);
    }

    @Test
    void curlPostsABodyIntactWithCredentialsInTheProxyUrl() throws Exception {
        byte[] payload = new byte[300 * 1024];
        new Random(11).nextBytes(payload);
        Path file = Files.write(dir.resolve("payload.bin"), payload);

        Curl.Result result = Curl.run(dir, fx.url("app", "app-token"),
                "-X", "POST", "-H", "Content-Type: application/octet-stream", "--data-binary", "@" + file,
                url("/upload"));

        assertThat(result.status()).as(result.stderr()).isEqualTo(200);
        assertThat(result.body()).isEqualTo("hello from wiremock");
        List<LoggedRequest> seen = upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock
                .postRequestedFor(com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/upload")));
        assertThat(seen).hasSize(1);
        assertThat(seen.get(0).getBody()).isEqualTo(payload);
        await().atMost(Duration.ofSeconds(5)).until(() -> !fx.listener.closed.isEmpty());
        assertThat(fx.listener.closed.get(0).bytesSent()).isEqualTo(payload.length);
    }

    @Test
    void proxyAndHopByHopHeadersNeverReachTheUpstream() throws Exception {
        Curl.Result result = Curl.run(dir, fx.url("app", "app-token"),
                "-H", "Connection: keep-alive, X-Hop", "-H", "X-Hop: secret", "-H", "Keep-Alive: timeout=5",
                "-H", "TE: trailers", "-H", "Trailer: X-T", "-H", "Upgrade: h2c", "-H", "Proxy-Foo: bar",
                "-H", "Proxy-Connection: keep-alive", "-H", "X-End-To-End: kept", url("/headers"));
        HttpClient client = fx.client().authenticator(proxyCredentials("app", "app-token")).build();
        HttpResponse<String> viaJava = client.send(HttpRequest.newBuilder(URI.create(url("/java"))).build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(result.status()).as(result.stderr()).isEqualTo(200);
        assertThat(viaJava.statusCode()).isEqualTo(200);
        List<LoggedRequest> seen = upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock
                .anyRequestedFor(anyUrl()));
        assertThat(seen).hasSize(2);
        for (LoggedRequest request : seen) {
            assertThat(request.getHeaders().keys()).noneMatch(h -> h.toLowerCase().startsWith("proxy-"));
            for (String hop : List.of("Connection", "Keep-Alive", "TE", "Trailer", "Upgrade", "X-Hop",
                    "HTTP2-Settings")) {
                assertThat(request.containsHeader(hop)).as(hop + " in " + request.getUrl()).isFalse();
            }
            assertThat(request.getHeader("Host")).isEqualTo("api.test:" + upstream.port());
        }
        LoggedRequest fromCurl = seen.stream().filter(r -> r.getUrl().equals("/headers")).findFirst().orElseThrow();
        assertThat(fromCurl.getHeader("X-End-To-End")).isEqualTo("kept");
    }

    @Test
    void aHostHeaderThatDisagreesWithTheUriIsInvalidHostAndNeverForwarded() throws Exception {
        Curl.Result result = Curl.run(dir, fx.url("app", "app-token"), "-H", "Host: evil.test", url("/"));
        RawHttp.Response raw = RawHttp.send(fx.address(), "GET " + url("/") + " HTTP/1.1\r\nHost: api.test:1\r\n"
                + "Proxy-Authorization: " + RawHttp.basic("app", "app-token") + "\r\n\r\n");

        assertThat(result.status()).isEqualTo(403);
        assertThat(result.header("X-Egressd-Denied")).isEqualTo("invalid_host");
        assertThat(raw.status()).isEqualTo(403);
        assertThat(raw.header("X-Egressd-Denied")).isEqualTo("invalid_host");
        assertThat(upstream.getAllServeEvents()).isEmpty();
    }

    @Test
    void theUpstreamGetsTheCanonicalHostNeverTheClientsSpellingOfIt() throws Exception {
        int port = upstream.port();
        RawHttp.Response spelled = RawHttp.send(fx.address(), "GET http://API.Test:" + port + "/spelled HTTP/1.1\r\n"
                + "Host: api.TEST.:" + port + "\r\nProxy-Authorization: " + APP + "\r\n\r\n");
        RawHttp.Response noHost = RawHttp.send(fx.address(), "GET http://Api.Test.:" + port + "/no-host HTTP/1.1\r\n"
                + "Proxy-Authorization: " + APP + "\r\n\r\n");

        assertThat(spelled.status()).isEqualTo(200);
        assertThat(noHost.status()).isEqualTo(200);
        List<LoggedRequest> seen = upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock
                .anyRequestedFor(anyUrl()));
        assertThat(seen).extracting(r -> r.getHeader("Host")).containsExactly("api.test:" + port, "api.test:" + port);
    }

    @Test
    void aRawNonAsciiHostIsInvalidHostAndNeverForwarded() throws Exception {
        // U+00AD (soft hyphen), one byte on the wire: IDNA drops it, so it would pass as api.test.
        String disguised = "a\u00ADpi.test:" + upstream.port();
        RawHttp.Response inUri = RawHttp.send(fx.address(), "GET http://" + disguised + "/ HTTP/1.1\r\n"
                + "Proxy-Authorization: " + APP + "\r\n\r\n");
        RawHttp.Response inHost = RawHttp.send(fx.address(), "GET " + url("/") + " HTTP/1.1\r\nHost: " + disguised
                + "\r\nProxy-Authorization: " + APP + "\r\n\r\n");
        RawHttp.Response inConnect = RawHttp.send(fx.address(), "CONNECT " + disguised + " HTTP/1.1\r\n"
                + "Proxy-Authorization: " + APP + "\r\n\r\n");

        for (RawHttp.Response r : List.of(inUri, inHost, inConnect)) {
            assertThat(r.status()).isEqualTo(403);
            assertThat(r.header("X-Egressd-Denied")).isEqualTo("invalid_host");
        }
        assertThat(upstream.getAllServeEvents()).isEmpty();
        assertThat(fx.listener.closed).isEmpty();
    }

    @Test
    void anOriginFormRequestGets400() throws Exception {
        RawHttp.Response raw = RawHttp.send(fx.address(), "GET /big HTTP/1.1\r\nHost: api.test\r\n\r\n");

        assertThat(raw.status()).isEqualTo(400);
        assertThat(raw.body()).contains("absolute form");
        assertThat(upstream.getAllServeEvents()).isEmpty();
    }

    @Test
    void wrongOrMissingCredentialsGet407WithABasicChallenge() throws Exception {
        Curl.Result wrong = Curl.run(dir, fx.url("app", "not-the-token"), url("/"));
        Curl.Result missing = Curl.run(dir, fx.url(null, null), url("/"));

        for (Curl.Result r : List.of(wrong, missing)) {
            assertThat(r.status()).isEqualTo(407);
            assertThat(r.header("Proxy-Authenticate")).isEqualTo("Basic realm=\"egressd\"");
        }
        assertThat(wrong.header("X-Egressd-Denied")).isEqualTo("bad_credentials");
        assertThat(missing.header("X-Egressd-Denied")).isEqualTo("unknown_client");
        assertThat(fx.listener.decided).extracting(d -> d.decision().reason())
                .containsExactly(Reason.BAD_CREDENTIALS, Reason.UNKNOWN_CLIENT);
        assertThat(upstream.getAllServeEvents()).isEmpty();
    }

    @Test
    void aClientNoServerClaimsGets403UnknownClient() throws Exception {
        fx.policy.set(Allowlist.load(dir, Allowlist.server("elsewhere").source("10.9.9.9/32")
                .host("api.test", upstream.port())));

        Curl.Result result = Curl.run(dir, fx.url(null, null), url("/"));

        assertThat(result.status()).isEqualTo(403);
        assertThat(result.header("X-Egressd-Denied")).isEqualTo("unknown_client");
        assertThat(result.body()).contains("reason: unknown_client").contains("api.test:" + upstream.port());
        assertThat(upstream.getAllServeEvents()).isEmpty();
    }

    @Test
    void aSourceAddressIdentifiesTheServerWithoutCredentials() throws Exception {
        fx.policy.set(Allowlist.load(dir, Allowlist.server("local").source("127.0.0.1/32")
                .host("api.test", upstream.port()).cidr("127.0.0.1/32", upstream.port())));

        Curl.Result result = Curl.run(dir, fx.url(null, null), url("/by-source"));

        assertThat(result.status()).as(result.stderr()).isEqualTo(200);
        assertThat(fx.listener.lastFor("api.test").server()).isEqualTo("local");
    }

    @Test
    void reportModeForwardsWhatEnforceWouldDenyAndSaysSo() throws Exception {
        HttpClient client = fx.client().authenticator(proxyCredentials("reporter", "report-token")).build();

        HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create(url("/reported"))).build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("hello from wiremock");
        Decision decision = fx.listener.lastFor("api.test");
        assertThat(decision.allowed()).isTrue();
        assertThat(decision.wouldDeny()).isTrue();
        assertThat(decision.reason()).isEqualTo(Reason.HOST_NOT_ALLOWED);
        assertThat(decision.server()).isEqualTo("reporter");
    }

    @Test
    void reportModeStillRefusesLoopbackNoCidrRuleNames() throws Exception {
        HttpClient client = fx.client().authenticator(proxyCredentials("reporter", "report-token")).build();
        String floorUrl = "http://floor.test:" + upstream.port() + "/floor";

        HttpResponse<String> response = client.send(HttpRequest.newBuilder(URI.create(floorUrl)).build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(response.statusCode()).isEqualTo(403);
        assertThat(response.headers().firstValue("X-Egressd-Denied")).hasValue("host_not_allowed");
        assertThat(fx.listener.lastFor("floor.test").allowed()).isFalse();
    }

    @Test
    void everyRequestOnAKeptAliveConnectionIsDecidedOnItsOwn() throws Exception {
        HttpClient client = fx.client().authenticator(proxyCredentials("app", "app-token")).build();
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(url("/again/" + i))).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
        }
        // A reload between requests applies to the next request on the same connection.
        fx.policy.set(Allowlist.load(dir, Allowlist.server("app").credentials("app", "app-token")
                .host("other.test", 443)));
        HttpResponse<String> after = client.send(HttpRequest.newBuilder(URI.create(url("/again/x"))).build(),
                HttpResponse.BodyHandlers.ofString());

        assertThat(after.statusCode()).isEqualTo(403);
        assertThat(after.headers().firstValue("X-Egressd-Denied")).hasValue("host_not_allowed");
        assertThat(fx.listener.decided.stream().filter(d -> d.decision().allowed()).count()).isEqualTo(3);
        assertThat(upstream.getAllServeEvents()).hasSize(3);
        assertThat(new String(after.body().getBytes(StandardCharsets.UTF_8), StandardCharsets.UTF_8))
                .contains("server: app");
    }

    static final String APP = RawHttp.basic("app", "app-token");

    @Test
    void identityIsTakenFromEachRequestNotFromTheConnection() throws Exception {
        fx.policy.set(Allowlist.load(dir,
                Allowlist.server("app").credentials("app", "app-token").host("api.test", upstream.port())
                        .cidr("127.0.0.1/32", upstream.port()),
                Allowlist.server("beta").credentials("beta", "beta-token").host("api.test", upstream.port())
                        .cidr("127.0.0.1/32", upstream.port())));
        String[] credentials = {APP, RawHttp.basic("beta", "beta-token"), null};
        String[] paths = {"/as-app", "/as-beta", "/as-nobody"};
        int[] statuses = new int[3];
        try (java.net.Socket socket = new java.net.Socket()) {
            socket.connect(fx.address(), 5000);
            socket.setSoTimeout(10_000);
            for (int i = 0; i < 3; i++) {
                socket.getOutputStream().write(("GET " + url(paths[i]) + " HTTP/1.1\r\nHost: api.test:"
                        + upstream.port() + "\r\n" + (credentials[i] == null ? ""
                        : "Proxy-Authorization: " + credentials[i] + "\r\n") + "\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                RawHttp.Response response = RawHttp.read(socket, false);
                statuses[i] = response.status();
                if (i == 2) {
                    assertThat(response.header("Proxy-Authenticate")).isEqualTo("Basic realm=\"egressd\"");
                    assertThat(response.header("X-Egressd-Denied")).isEqualTo("unknown_client");
                }
            }
        }

        assertThat(statuses).containsExactly(200, 200, 407);
        // One client connection, three decisions, each with the server of its own request's credentials.
        assertThat(fx.listener.decided).extracting(RecordingListener.Decided::client).hasSize(3)
                .containsOnly(fx.listener.decided.get(0).client());
        assertThat(fx.listener.decided).extracting(d -> d.decision().server())
                .containsExactly("app", "beta", null);
        assertThat(fx.listener.decided).extracting(d -> d.decision().allowed()).containsExactly(true, true, false);
        // The upstream saw the two allowed requests, in order, and no credentials of either.
        List<LoggedRequest> seen = upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock
                .anyRequestedFor(anyUrl()));
        assertThat(seen).extracting(LoggedRequest::getUrl).containsExactlyInAnyOrder("/as-app", "/as-beta");
        assertThat(seen).allSatisfy(r -> assertThat(r.containsHeader("Proxy-Authorization")).isFalse());
        await().atMost(Duration.ofSeconds(5)).until(() -> fx.listener.closed.size() == 2);
        assertThat(fx.listener.closed).extracting(c -> c.decision().server()).containsExactly("app", "beta");
    }


    @Test
    void aRefusedRequestsBodyIsSkippedAndTheConnectionServesTheNextRequest() throws Exception {
        try (java.net.Socket socket = new java.net.Socket()) {
            socket.connect(fx.address(), 5000);
            socket.setSoTimeout(10_000);
            java.io.OutputStream out = socket.getOutputStream();
            out.write(("POST http://denied.test:" + upstream.port() + "/x HTTP/1.1\r\nHost: denied.test:"
                    + upstream.port() + "\r\nProxy-Authorization: " + APP + "\r\nContent-Length: 11\r\n\r\n"
                    + "hello world").getBytes(StandardCharsets.US_ASCII));
            RawHttp.Response refused = RawHttp.read(socket, false);
            // No Host header: the proxy adds the URI's.
            out.write(("GET " + url("/after") + " HTTP/1.1\r\nProxy-Authorization: " + APP + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            RawHttp.Response allowed = RawHttp.read(socket, false);

            assertThat(refused.status()).isEqualTo(403);
            assertThat(refused.header("X-Egressd-Denied")).isEqualTo("host_not_allowed");
            assertThat(allowed.status()).isEqualTo(200);
            assertThat(allowed.body()).isEqualTo("hello from wiremock");
        }
        List<LoggedRequest> seen = upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock
                .anyRequestedFor(anyUrl()));
        assertThat(seen).hasSize(1);
        assertThat(seen.get(0).getHeader("Host")).isEqualTo("api.test:" + upstream.port());
    }

    @Test
    void aRefusedRequestThatExpects100ContinueClosesRatherThanWaitForItsBody() throws Exception {
        try (java.net.Socket socket = new java.net.Socket()) {
            socket.connect(fx.address(), 5000);
            socket.setSoTimeout(10_000);
            // As curl sends it: the head only; the body follows a 100 Continue, which never comes.
            socket.getOutputStream().write(("POST http://denied.test:" + upstream.port() + "/x HTTP/1.1\r\n"
                    + "Host: denied.test:" + upstream.port() + "\r\nProxy-Authorization: " + APP + "\r\n"
                    + "Content-Length: 11\r\nExpect: 100-continue\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            RawHttp.Response refused = RawHttp.read(socket, true);

            assertThat(refused.status()).isEqualTo(403);
            assertThat(refused.header("X-Egressd-Denied")).isEqualTo("host_not_allowed");
            // Kept open, the proxy would take the client's next request for the 11 bytes it waits for.
            assertThat(refused.header("Connection")).isEqualTo("close");
            assertThat(refused.closed()).isTrue();
        }
        assertThat(upstream.getAllServeEvents()).isEmpty();
    }

    @Test
    void aClientsConnectionCloseIsHonouredOnAnAllowedRequest() throws Exception {
        RawHttp.Response response = RawHttp.send(fx.address(), "GET " + url("/close") + " HTTP/1.1\r\n"
                + "Host: api.test:" + upstream.port() + "\r\nConnection: close\r\nProxy-Authorization: " + APP
                + "\r\n\r\n");

        assertThat(response.status()).isEqualTo(200);
        assertThat(response.body()).isEqualTo("hello from wiremock");
        assertThat(response.header("Connection")).isEqualTo("close");
        assertThat(response.closed()).isTrue();
        // Still hop-by-hop: the upstream connection is the proxy's own.
        assertThat(upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock.getRequestedFor(
                com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/close"))))
                .singleElement().satisfies(r -> assertThat(r.containsHeader("Connection")).isFalse());
    }

    @Test
    void anUnparseableRequestGets400() throws Exception {
        RawHttp.Response response = RawHttp.send(fx.address(), "GET http://api.test/ HTTP/1.1\r\n"
                + "Bad Header Line Without Colon\r\n" + "X".repeat(70_000) + "\r\n\r\n");

        assertThat(response.status()).isEqualTo(400);
        assertThat(upstream.getAllServeEvents()).isEmpty();
    }

    @Test
    void largeUploadsWithExpectContinueOrChunkedArriveIntact() throws Exception {
        byte[] payload = new byte[3 * 1024 * 1024];
        new Random(5).nextBytes(payload);
        Path file = Files.write(dir.resolve("large.bin"), payload);

        Curl.Result result = Curl.run(dir, fx.url("app", "app-token"), "-H", "Expect: 100-continue",
                "-H", "Content-Type: application/octet-stream", "--data-binary", "@" + file, url("/large"));
        Curl.Result chunked = Curl.run(dir, fx.url("app", "app-token"), "-H", "Transfer-Encoding: chunked",
                "-H", "Content-Type: application/octet-stream", "--data-binary", "@" + file, url("/chunked"));

        assertThat(result.status()).as(result.stderr()).isEqualTo(200);
        List<LoggedRequest> seen = upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock
                .postRequestedFor(com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/large")));
        assertThat(seen).hasSize(1);
        assertThat(seen.get(0).getBody()).isEqualTo(payload);
        assertThat(chunked.status()).as(chunked.stderr()).isEqualTo(200);
        List<LoggedRequest> chunks = upstream.findAll(com.github.tomakehurst.wiremock.client.WireMock
                .postRequestedFor(com.github.tomakehurst.wiremock.client.WireMock.urlEqualTo("/chunked")));
        assertThat(chunks).hasSize(1);
        assertThat(chunks.get(0).getBody()).isEqualTo(payload);
    }
}
