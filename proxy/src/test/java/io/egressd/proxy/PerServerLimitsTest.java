package io.egressd.proxy;

import static io.egressd.proxy.FloodLimitsTest.from;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.policy.Policy;
import io.egressd.policy.Reason;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code max_connections_per_server} and the per-server request rate: a server over either is
 * answered 429 {@code limit_exceeded} (reported to the listener, hence audited and counted),
 * while another server's requests go on being answered.
 */
class PerServerLimitsTest {

    static final String FLOOD = "127.0.0.4";
    static final String CALM = "127.0.0.3";

    @TempDir
    static Path dir;

    static CountingHttpServer upstream;
    static Policy policy;

    @BeforeAll
    static void start() throws Exception {
        upstream = new CountingHttpServer("127.0.0.1", 0, "upstream");
        policy = Allowlist.load(dir,
                Allowlist.server("flood").source(FLOOD + "/32").cidr("127.0.0.1/32", upstream.port()),
                Allowlist.server("calm").source(CALM + "/32").cidr("127.0.0.1/32", upstream.port()));
    }

    @AfterAll
    static void stop() {
        upstream.close();
    }

    static RawHttp.Response getOn(Socket socket) throws IOException {
        String authority = "127.0.0.1:" + upstream.port();
        socket.setSoTimeout(10_000);
        socket.getOutputStream().write(("GET http://" + authority + "/ HTTP/1.1\r\nHost: " + authority + "\r\n\r\n")
                .getBytes(StandardCharsets.ISO_8859_1));
        return RawHttp.read(socket, false);
    }

    static RawHttp.Response getFrom(String source, InetSocketAddress proxy) throws IOException {
        try (Socket socket = from(source, proxy)) {
            return getOn(socket);
        }
    }

    @Test
    void aServerOverItsRequestRateGets429WhileAnotherServersRequestsAreAnswered() throws Exception {
        try (ProxyFixture fx = new ProxyFixture(policy, new LoopbackResolver(),
                ProxyFixture.settings().withServerLimits(100, 5))) {
            int ok = 0;
            int limited = 0;
            for (int i = 0; i < 60; i++) {
                RawHttp.Response response = getFrom(FLOOD, fx.address());
                if (response.status() == 429) {
                    limited++;
                    assertThat(response.header("X-Egressd-Denied")).isEqualTo("limit_exceeded");
                } else {
                    assertThat(response.status()).isEqualTo(200);
                    ok++;
                }
            }
            assertThat(limited).as("flood's requests over its rate").isPositive();
            assertThat(ok).as("flood's burst allowance").isPositive();

            for (int i = 0; i < 5; i++) {
                assertThat(getFrom(CALM, fx.address()).status()).as("calm's request %d", i).isEqualTo(200);
            }
            List<RecordingListener.Decided> overLimit = fx.listener.decided.stream()
                    .filter(d -> d.decision().reason() == Reason.LIMIT_EXCEEDED).toList();
            assertThat(overLimit).hasSize(limited);
            assertThat(overLimit).allSatisfy(d -> assertThat(d.decision().server()).isEqualTo("flood"));
        }
    }

    @Test
    void aServerOverItsConnectionLimitGets429WhileAnotherServerConnects() throws Exception {
        List<Socket> held = new ArrayList<>();
        try (ProxyFixture fx = new ProxyFixture(policy, new LoopbackResolver(),
                ProxyFixture.settings().withServerLimits(2, 1000))) {
            for (int i = 0; i < 2; i++) {
                Socket s = from(FLOOD, fx.address());
                held.add(s);
                assertThat(getOn(s).status()).isEqualTo(200);
            }
            RawHttp.Response third = getFrom(FLOOD, fx.address());
            assertThat(third.status()).isEqualTo(429);
            assertThat(third.header("X-Egressd-Denied")).isEqualTo("limit_exceeded");
            assertThat(third.body()).contains("flood");

            assertThat(getFrom(CALM, fx.address()).status()).isEqualTo(200);
            // The kept-alive connections go on being served ...
            assertThat(getOn(held.get(0)).status()).isEqualTo(200);
            // ... and one closing frees its place.
            held.get(1).close();
            await().atMost(Duration.ofSeconds(5)).until(() -> getFrom(FLOOD, fx.address()).status() == 200);
        } finally {
            for (Socket s : held) {
                s.close();
            }
        }
    }
}
