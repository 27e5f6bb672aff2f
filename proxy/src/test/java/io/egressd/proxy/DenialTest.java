package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.policy.Policy;
import io.egressd.policy.Reason;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
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
    static ProxyFixture fx;
    static int port;

    @BeforeAll
    static void start() throws Exception {
        upstream = new CountingHttpServer("127.0.0.1", 0, "upstream");
        port = upstream.port();
        Policy policy = Allowlist.load(dir,
                Allowlist.server("app").credentials("app", "app-token")
                        .host("allowed.test", port).cidr("127.0.0.1/32", port),
                Allowlist.server("nocidr").credentials("nocidr", "nocidr-token").host("allowed.test", port));
        fx = new ProxyFixture(policy, new LoopbackResolver()
                .answer("allowed.test", "127.0.0.1").answer("denied.test", "127.0.0.1")
                .answer("localhost", "127.0.0.1").answer("metadata.google.internal", "127.0.0.1"));
    }

    @AfterAll
    static void stop() {
        fx.close();
        upstream.close();
    }

    @AfterEach
    void nothingReachedTheUpstream() {
        assertThat(upstream.accepts()).as("connections the upstream accepted").isZero();
        for (String name : new String[] {"denied.test", "localhost", "metadata.google.internal"}) {
            assertThat(fx.resolver.calls(name)).as("lookups of " + name).isZero();
        }
    }

    static Stream<Arguments> refusals() {
        return Stream.of(
                Arguments.of("app", "denied.test:" + port, Reason.HOST_NOT_ALLOWED),
                Arguments.of("app", "allowed.test:" + (port == 65535 ? 1 : port + 1), Reason.PORT_NOT_ALLOWED),
                Arguments.of("nocidr", "127.0.0.1:" + port, Reason.IP_LITERAL_NOT_ALLOWED),
                Arguments.of("nocidr", "allowed.test:" + port, Reason.ADDRESS_NOT_ALLOWED),
                Arguments.of("app", "[::1]:" + port, Reason.IP_LITERAL_NOT_ALLOWED),
                Arguments.of("app", "localhost:" + port, Reason.DENIED_BY_GLOBAL_RULE),
                Arguments.of("app", "LocalHost.:" + port, Reason.DENIED_BY_GLOBAL_RULE),
                Arguments.of("app", "169.254.169.254:80", Reason.IP_LITERAL_NOT_ALLOWED),
                Arguments.of("app", "metadata.google.internal:80", Reason.DENIED_BY_GLOBAL_RULE),
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
        }
    }
}
