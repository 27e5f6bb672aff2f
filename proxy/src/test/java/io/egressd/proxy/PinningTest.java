package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.egressd.policy.Decision;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ProxySelector;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proxy dials exactly the address the policy vetted, and looks a name up once per
 * request: a rebinding resolver gets no second chance. Two listeners on the same port, one on
 * 127.0.0.1 (loopback, which a host rule alone does not allow) and one on 127.0.0.2 (allowed by
 * a cidr rule), count where connections really go.
 */
class PinningTest {

    @TempDir
    static Path dir;

    static CountingHttpServer one;
    static CountingHttpServer two;
    static ProxyFixture fx;
    static int port;
    static final String APP = RawHttp.basic("app", "app-token");

    @BeforeAll
    static void start() throws IOException {
        bindPair();
        fx = new ProxyFixture(Allowlist.load(dir, Allowlist.server("app").credentials("app", "app-token")
                        .host("pinned.test", port).host("rebind.test", port).cidr("127.0.0.2/32", port)
                        .host("ordered.test", port)),
                new LoopbackResolver()
                        .answer("pinned.test", "127.0.0.1", "127.0.0.2")
                        // The order: the address the policy allows first, loopback second.
                        .answer("ordered.test", "127.0.0.2", "127.0.0.1")
                        .answer("rebind.test", "127.0.0.2")
                        .answer("rebind.test", "127.0.0.1"));
    }

    /** The same port on 127.0.0.2 and 127.0.0.1. */
    static void bindPair() throws IOException {
        for (int attempt = 0; attempt < 20; attempt++) {
            CountingHttpServer candidate = new CountingHttpServer("127.0.0.2", 0, "two");
            try {
                one = new CountingHttpServer("127.0.0.1", candidate.port(), "one");
                two = candidate;
                port = candidate.port();
                return;
            } catch (IOException taken) {
                candidate.close();
            }
        }
        throw new IOException("no port free on both 127.0.0.1 and 127.0.0.2");
    }

    @AfterAll
    static void stop() {
        fx.close();
        one.close();
        two.close();
    }

    @BeforeEach
    void reset() {
        fx.listener.clear();
        fx.dialChecks.clear();
    }

    @Test
    void aTunnelGoesToTheVettedAddressOnly() throws Exception {
        int before = two.accepts();

        String body = getThroughTunnel("pinned.test");

        assertThat(body).isEqualTo("hello from two");
        assertThat(one.accepts()).isZero();
        assertThat(two.accepts()).isEqualTo(before + 1);
        Decision decision = fx.listener.lastFor("pinned.test");
        assertThat(decision.address().getHostAddress()).isEqualTo("127.0.0.2");
        assertThat(decision.rule()).endsWith("app.yaml#allow[2]");
    }

    @Test
    void plainHttpGoesToTheVettedAddressOnlyAndLooksUpOncePerRequest() throws Exception {
        int lookups = fx.resolver.calls("pinned.test");
        int before = two.accepts();

        Curl.Result first = Curl.run(dir, fx.url("app", "app-token"), "http://pinned.test:" + port + "/a");
        Curl.Result second = Curl.run(dir, fx.url("app", "app-token"), "http://pinned.test:" + port + "/b");

        assertThat(first.body()).isEqualTo("hello from two");
        assertThat(second.body()).isEqualTo("hello from two");
        assertThat(one.accepts()).isZero();
        assertThat(two.accepts()).isEqualTo(before + 2);
        assertThat(fx.resolver.calls("pinned.test")).isEqualTo(lookups + 2);
        assertThat(two.requestHeads).anySatisfy(head -> assertThat(head)
                .startsWith("GET /a HTTP/1.1").containsIgnoringCase("\r\nHost: pinned.test:" + port + "\r\n"));
    }

    @Test
    void aKeptAliveClientConnectionRedialsTheVettedAddressForEachRequest() throws Exception {
        int lookups = fx.resolver.calls("pinned.test");
        int before = two.accepts();
        try (Socket socket = new Socket()) {
            socket.connect(fx.address(), 5000);
            socket.setSoTimeout(10_000);
            for (String path : new String[] {"/one", "/two", "/three"}) {
                // The upstream closes after every answer, so each request needs a new upstream connection.
                socket.getOutputStream().write(("GET http://pinned.test:" + port + path + " HTTP/1.1\r\nHost: "
                        + "pinned.test:" + port + "\r\nProxy-Authorization: " + APP + "\r\n\r\n")
                        .getBytes(StandardCharsets.US_ASCII));
                RawHttp.Response response = RawHttp.read(socket, false);
                assertThat(response.status()).isEqualTo(200);
                assertThat(response.body()).isEqualTo("hello from two");
            }
        }
        assertThat(one.accepts()).isZero();
        assertThat(two.accepts()).isEqualTo(before + 3);
        assertThat(fx.resolver.calls("pinned.test")).isEqualTo(lookups + 3);
    }

    @Test
    void javaHttpClientIsSentToTheVettedAddressOfAnAnswerThatListsItFirstAndLoopbackSecond() throws Exception {
        int lookups = fx.resolver.calls("ordered.test");
        int beforeOne = one.accepts();
        int beforeTwo = two.accepts();
        HttpClient client = HttpClient.newBuilder().proxy(ProxySelector.of(fx.address()))
                .authenticator(PlainHttpProxyTest.proxyCredentials("app", "app-token"))
                .connectTimeout(Duration.ofSeconds(5)).build();

        for (String path : new String[] {"/first", "/second"}) {
            HttpResponse<String> response = client.send(HttpRequest.newBuilder(
                    URI.create("http://ordered.test:" + port + path)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).isEqualTo(200);
            assertThat(response.body()).isEqualTo("hello from two");
        }

        assertThat(one.accepts()).as("connections to 127.0.0.1").isEqualTo(beforeOne);
        assertThat(two.accepts()).as("connections to 127.0.0.2").isEqualTo(beforeTwo + 2);
        Decision decision = fx.listener.lastFor("ordered.test");
        assertThat(decision.address().getHostAddress()).isEqualTo("127.0.0.2");
        assertThat(fx.dialChecks).extracting(InetAddress::getHostAddress).containsOnly("127.0.0.2");
        // The first send carries no credentials (407, no lookup); each allowed request looks up once.
        assertThat(fx.resolver.calls("ordered.test")).isEqualTo(lookups + 2);
    }

    @Test
    void aRebindingAnswerIsNeverDialed() throws Exception {
        String body = getThroughTunnel("rebind.test");
        assertThat(fx.resolver.calls("rebind.test")).isEqualTo(1);

        // The second answer is 127.0.0.1 alone, which this server may not reach.
        RawHttp.Response second = RawHttp.send(fx.address(),
                "CONNECT rebind.test:" + port + " HTTP/1.1\r\nProxy-Authorization: " + APP + "\r\n\r\n");

        assertThat(body).isEqualTo("hello from two");
        assertThat(second.status()).isEqualTo(403);
        assertThat(second.header("X-Egressd-Denied")).isEqualTo("address_not_allowed");
        assertThat(fx.resolver.calls("rebind.test")).isEqualTo(2);
        assertThat(one.accepts()).isZero();
    }

    @Test
    void littleProxysOwnResolverRefusesEveryLookup() {
        assertThatThrownBy(() -> new NoLookupResolver().resolve("pinned.test", port))
                .isInstanceOf(UnknownHostException.class);
    }

    private String getThroughTunnel(String host) throws IOException {
        try (Socket tunnel = RawHttp.tunnel(fx.address(), host + ":" + port, APP)) {
            tunnel.getOutputStream().write(("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            InputStream in = tunnel.getInputStream();
            String response = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            return response.substring(response.indexOf("\r\n\r\n") + 4);
        }
    }
}
