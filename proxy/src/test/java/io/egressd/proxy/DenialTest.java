package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every kind of refusal, through CONNECT and plain HTTP: 403 with the reason, and the
 * upstream the test owns never sees a connection.
 */
class DenialTest {

    @TempDir
    static Path dir;

    static CountingHttpServer upstream;
    /** Where a leak of each kind of refusal would land: the next port, and the same port on ::1. */
    static CountingHttpServer nextPort;
    static CountingHttpServer ipv6;
    static ProxyFixture fx;
    static int port;

    @BeforeAll
    static void start() throws Exception {
        bindTraps();
        Policy policy = Allowlist.load(dir,
                Allowlist.server("app").credentials("app", "app-token")
                        .host("allowed.test", port).cidr("127.0.0.1/32", port),
                Allowlist.server("nocidr").credentials("nocidr", "nocidr-token").host("allowed.test", port));
        fx = new ProxyFixture(policy, new LoopbackResolver()
                .answer("allowed.test", "127.0.0.1").answer("denied.test", "127.0.0.1")
                .answer("localhost", "127.0.0.1").answer("metadata.google.internal", "127.0.0.1"));
    }

    /** The upstream on 127.0.0.1:port, and counting listeners on 127.0.0.1:port+1 and [::1]:port. */
    static void bindTraps() throws IOException {
        for (int attempt = 0; attempt < 20; attempt++) {
            CountingHttpServer candidate = new CountingHttpServer("127.0.0.1", 0, "upstream");
            int p = candidate.port();
            CountingHttpServer next = null;
            try {
                if (p == 65535) {
                    throw new IOException("no next port");
                }
                next = new CountingHttpServer("127.0.0.1", p + 1, "next-port");
                ipv6 = new CountingHttpServer("::1", p, "ipv6");
                nextPort = next;
                upstream = candidate;
                port = p;
                return;
            } catch (IOException taken) {
                candidate.close();
                if (next != null) {
                    next.close();
                }
            }
        }
        throw new IOException("no port free on 127.0.0.1 with its next port and on ::1");
    }

    @AfterAll
    static void stop() {
        fx.close();
        upstream.close();
        nextPort.close();
        ipv6.close();
    }

    @BeforeEach
    void reset() {
        fx.listener.clear();
    }

    @AfterEach
    void nothingReachedTheUpstream() {
        assertThat(upstream.accepts()).as("connections the upstream accepted").isZero();
        assertThat(nextPort.accepts()).as("connections to the next port").isZero();
        assertThat(ipv6.accepts()).as("connections to [::1]:" + port).isZero();
        // Not even an attempt: the proxy reports every upstream connect it makes (169.254.169.254
        // has no listener a test could own), and vets every address it would dial.
        assertThat(fx.listener.upstreamConnects).as("upstream connects").isEmpty();
        assertThat(fx.dialChecks).as("addresses the proxy was about to dial").isEmpty();
        for (String name : new String[] {"denied.test", "localhost", "metadata.google.internal"}) {
            assertThat(fx.resolver.calls(name)).as("lookups of " + name).isZero();
        }
    }

    static Stream<Arguments> refusals() {
        return Stream.of(
                Arguments.of("app", "denied.test:" + port, Reason.HOST_NOT_ALLOWED),
                Arguments.of("app", "allowed.test:" + (port + 1), Reason.PORT_NOT_ALLOWED),
                Arguments.of("nocidr", "127.0.0.1:" + port, Reason.IP_LITERAL_NOT_ALLOWED),
                Arguments.of("nocidr", "allowed.test:" + port, Reason.ADDRESS_NOT_ALLOWED),
                Arguments.of("app", "[::1]:" + port, Reason.IP_LITERAL_NOT_ALLOWED),
                Arguments.of("app", "localhost:" + port, Reason.DENIED_BY_GLOBAL_RULE),
                Arguments.of("app", "LocalHost.:" + port, Reason.DENIED_BY_GLOBAL_RULE),
                Arguments.of("app", "169.254.169.254:80", Reason.IP_LITERAL_NOT_ALLOWED),
                Arguments.of("app", "metadata.google.internal:" + port, Reason.DENIED_BY_GLOBAL_RULE),
                Arguments.of("app", "2130706433:" + port, Reason.INVALID_HOST),
                Arguments.of("app", "0x7f.1:" + port, Reason.INVALID_HOST),
                Arguments.of("app", "127.1:" + port, Reason.INVALID_HOST),
                Arguments.of("app", "0177.0.0.1:" + port, Reason.INVALID_HOST),
                Arguments.of("app", "127.0.0.1%2e:" + port, Reason.INVALID_HOST),
                Arguments.of("app", "user@127.0.0.1:" + port, Reason.INVALID_HOST));
    }

    @ParameterizedTest(name = "CONNECT {1} as {0}: {2}")
    @MethodSource("refusals")
    void connectIsRefused(String server, String authority, Reason reason) throws Exception {
        RawHttp.Response response = RawHttp.send(fx.address(), "CONNECT " + authority + " HTTP/1.1\r\nHost: "
                + authority + "\r\nProxy-Authorization: " + RawHttp.basic(server, server + "-token") + "\r\n\r\n");

        assertRefused(response, server, authority, reason);
        assertThat(response.header("Connection")).isEqualTo("close");
        assertThat(response.closed()).isTrue();
    }

    @ParameterizedTest(name = "GET http://{1}/ as {0}: {2}")
    @MethodSource("refusals")
    void plainHttpIsRefused(String server, String authority, Reason reason) throws Exception {
        RawHttp.Response response = RawHttp.send(fx.address(), "GET http://" + authority + "/secret HTTP/1.1\r\n"
                + "Host: " + authority + "\r\nProxy-Authorization: " + RawHttp.basic(server, server + "-token")
                + "\r\n\r\n");

        assertRefused(response, server, authority, reason);
    }

    private static void assertRefused(RawHttp.Response response, String server, String authority, Reason reason) {
        assertThat(response.status()).isEqualTo(403);
        assertThat(response.header("X-Egressd-Denied")).isEqualTo(reason.code());
        String port = authority.substring(authority.lastIndexOf(':') + 1);
        assertThat(response.body()).contains(":" + port).contains("server: " + server)
                .contains("reason: " + reason.code());
        assertThat(fx.listener.decided).anySatisfy(d -> assertThat(d.decision().reason()).isEqualTo(reason));
    }

    @Test
    void curlSeesTheRefusalOfItsConnect() throws Exception {
        Curl.Result result = Curl.run(dir, fx.url("app", "app-token"), "https://denied.test:" + port + "/");

        assertThat(result.connect()).isEqualTo(403);
        assertThat(result.header("X-Egressd-Denied")).isEqualTo("host_not_allowed");
        assertThat(result.exit()).isNotZero();
    }

    @Test
    void curlSeesTheRefusalOfLocalhost() throws Exception {
        Curl.Result result = Curl.run(dir, fx.url("app", "app-token"), "http://localhost:" + port + "/");

        assertThat(result.status()).isEqualTo(403);
        assertThat(result.header("X-Egressd-Denied")).isEqualTo("denied_by_global_rule");
        assertThat(result.body()).contains("localhost:" + port);
    }

    @Test
    void javaHttpClientSeesTheRefusalOfADeniedPortAndOfTheMetadataAddress() throws Exception {
        var client = fx.client().authenticator(PlainHttpProxyTest.proxyCredentials("app", "app-token")).build();

        HttpResponse<String> port = client.send(HttpRequest.newBuilder(
                URI.create("http://allowed.test:" + (DenialTest.port + 1) + "/")).build(),
                HttpResponse.BodyHandlers.ofString());
        HttpResponse<String> metadata = client.send(HttpRequest.newBuilder(
                URI.create("http://169.254.169.254/latest/meta-data/")).build(), HttpResponse.BodyHandlers.ofString());

        assertThat(port.statusCode()).isEqualTo(403);
        assertThat(port.headers().firstValue("X-Egressd-Denied")).hasValue("port_not_allowed");
        assertThat(metadata.statusCode()).isEqualTo(403);
        assertThat(metadata.headers().firstValue("X-Egressd-Denied")).hasValue("ip_literal_not_allowed");
        assertThat(metadata.body()).contains("169.254.169.254:80");
    }

    @Test
    void javaHttpClientsHttpsRequestToADeniedHostFailsAtItsConnect() throws Exception {
        var client = fx.client().authenticator(PlainHttpProxyTest.proxyCredentials("app", "app-token")).build();

        // java.net.http surfaces a refused CONNECT as an IOException naming the proxy's status.
        assertThatThrownBy(() -> client.send(HttpRequest.newBuilder(URI.create("https://denied.test:" + port + "/"))
                .build(), HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(IOException.class).hasMessageContaining("403");

        // The first CONNECT carries no credentials (407), the retry with them is refused.
        assertThat(fx.listener.decided).extracting(d -> d.decision().reason())
                .containsExactly(Reason.UNKNOWN_CLIENT, Reason.HOST_NOT_ALLOWED);
        RecordingListener.Decided refused = fx.listener.decided.get(1);
        assertThat(refused.protocol()).isEqualTo(Protocol.CONNECT);
        assertThat(refused.decision().server()).isEqualTo("app");
        assertThat(refused.decision().host()).isEqualTo("denied.test");
    }

    @Test
    void javaHttpClientWithAWrongPasswordGets407UntilItGivesUp() throws Exception {
        var client = fx.client().authenticator(PlainHttpProxyTest.proxyCredentials("app", "wrong-token")).build();

        // java.net.http retries with the Authenticator's credentials while the proxy answers 407, up to
        // its limit of 3 retries, then gives up with an IOException; plain HTTP and CONNECT alike.
        for (String scheme : new String[] {"http", "https"}) {
            assertThatThrownBy(() -> client.send(HttpRequest.newBuilder(
                    URI.create(scheme + "://allowed.test:" + port + "/")).build(), HttpResponse.BodyHandlers.ofString()))
                    .as(scheme).isInstanceOf(IOException.class).hasMessage("too many authentication attempts. Limit: 3");
        }

        // Each send: first without credentials, then four times with the wrong ones, each answered 407.
        Reason u = Reason.UNKNOWN_CLIENT;
        Reason b = Reason.BAD_CREDENTIALS;
        assertThat(fx.listener.decided).extracting(d -> d.decision().reason())
                .containsExactly(u, b, b, b, b, u, b, b, b, b);
        assertThat(fx.listener.decided).extracting(RecordingListener.Decided::protocol).containsExactly(
                Protocol.HTTP, Protocol.HTTP, Protocol.HTTP, Protocol.HTTP, Protocol.HTTP,
                Protocol.CONNECT, Protocol.CONNECT, Protocol.CONNECT, Protocol.CONNECT, Protocol.CONNECT);
    }

    @Test
    void curlWithAWrongPasswordGets407ForItsConnect() throws Exception {
        Curl.Result result = Curl.run(dir, fx.url("app", "wrong-token"), "https://allowed.test:" + port + "/");

        assertThat(result.connect()).isEqualTo(407);
        assertThat(result.header("Proxy-Authenticate")).isEqualTo("Basic realm=\"egressd\"");
        assertThat(result.header("X-Egressd-Denied")).isEqualTo("bad_credentials");
        assertThat(result.exit()).isNotZero();
    }

    @Test
    void javaHttpClientFromAnUnknownClientGets403UnknownClient() throws Exception {
        // No server takes credentials and none claims 127.0.0.1: nothing can identify this client.
        try (ProxyFixture strangers = new ProxyFixture(Allowlist.load(dir, Allowlist.server("elsewhere")
                .source("10.9.9.9/32").host("allowed.test", port).cidr("127.0.0.1/32", port)),
                new LoopbackResolver().answer("allowed.test", "127.0.0.1"))) {
            var client = strangers.client().build();

            HttpResponse<String> plain = client.send(HttpRequest.newBuilder(
                    URI.create("http://allowed.test:" + port + "/")).build(), HttpResponse.BodyHandlers.ofString());
            assertThatThrownBy(() -> client.send(HttpRequest.newBuilder(
                    URI.create("https://allowed.test:" + port + "/")).build(), HttpResponse.BodyHandlers.ofString()))
                    .isInstanceOf(IOException.class).hasMessageContaining("403");

            assertThat(plain.statusCode()).isEqualTo(403);
            assertThat(plain.headers().firstValue("X-Egressd-Denied")).hasValue("unknown_client");
            assertThat(plain.body()).contains("reason: unknown_client").contains("(unidentified client)");
            assertThat(strangers.listener.decided).extracting(d -> d.decision().reason())
                    .containsExactly(Reason.UNKNOWN_CLIENT, Reason.UNKNOWN_CLIENT);
            assertThat(strangers.dialChecks).isEmpty();
            assertThat(strangers.resolver.calls("allowed.test")).isZero();
        }
    }

    @Test
    void curlToAnIpLiteralWithoutACidrRuleIsRefusedOverHttpAndConnect() throws Exception {
        Curl.Result plain = Curl.run(dir, fx.url("nocidr", "nocidr-token"), "http://127.0.0.1:" + port + "/");
        Curl.Result tunnel = Curl.run(dir, fx.url("nocidr", "nocidr-token"), "https://127.0.0.1:" + port + "/");

        assertThat(plain.status()).isEqualTo(403);
        assertThat(plain.header("X-Egressd-Denied")).isEqualTo("ip_literal_not_allowed");
        assertThat(plain.body()).contains("127.0.0.1:" + port).contains("server: nocidr");
        assertThat(tunnel.connect()).isEqualTo(403);
        assertThat(tunnel.header("X-Egressd-Denied")).isEqualTo("ip_literal_not_allowed");
    }

    @Test
    void curlsAlternativeIpv4SpellingsAreRefusedAsTheLiteralTheyAre() throws Exception {
        // curl rewrites 0x7f.1, 2130706433 and 0177.0.0.1 to 127.0.0.1 before it asks the proxy
        // (the raw spellings are refused invalid_host above): the proxy sees an IP literal.
        for (String spelling : new String[] {"0x7f.1", "2130706433", "0177.0.0.1", "127.1"}) {
            Curl.Result plain = Curl.run(dir, fx.url("nocidr", "nocidr-token"),
                    "http://" + spelling + ":" + port + "/");
            Curl.Result tunnel = Curl.run(dir, fx.url("nocidr", "nocidr-token"),
                    "https://" + spelling + ":" + port + "/");

            assertThat(plain.status()).as(spelling).isEqualTo(403);
            assertThat(plain.header("X-Egressd-Denied")).as(spelling).isEqualTo("ip_literal_not_allowed");
            assertThat(tunnel.connect()).as(spelling).isEqualTo(403);
            assertThat(tunnel.header("X-Egressd-Denied")).as(spelling).isEqualTo("ip_literal_not_allowed");
        }
        assertThat(fx.listener.decided).hasSize(8).allSatisfy(d -> assertThat(d.decision().host())
                .isEqualTo("127.0.0.1"));
    }

    @Test
    void theCountingUpstreamDoesCountAnAllowedRequest() throws Exception {
        try (CountingHttpServer control = new CountingHttpServer("127.0.0.1", 0, "control");
             ProxyFixture allowing = new ProxyFixture(Allowlist.load(dir, Allowlist.server("app")
                     .credentials("app", "app-token").cidr("127.0.0.1/32", control.port())), new LoopbackResolver())) {
            RawHttp.Response response = RawHttp.send(allowing.address(), "GET http://127.0.0.1:" + control.port()
                    + "/ HTTP/1.1\r\nHost: 127.0.0.1:" + control.port() + "\r\nProxy-Authorization: "
                    + RawHttp.basic("app", "app-token") + "\r\n\r\n");

            assertThat(response.status()).isEqualTo(200);
            assertThat(response.body()).isEqualTo("hello from control");
            assertThat(control.accepts()).isEqualTo(1);
            assertThat(allowing.listener.upstreamConnects).containsExactly(Protocol.HTTP);
            assertThat(allowing.dialChecks).extracting(java.net.InetAddress::getHostAddress)
                    .containsExactly("127.0.0.1");
        }
    }
}
