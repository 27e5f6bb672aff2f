package io.egressd.e2e;

import static io.egressd.e2e.AuditLines.event;
import static io.egressd.e2e.AuditLines.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Issue 9 item 7, with the real daemon process: SIGTERM closes the listeners at once (a new
 * connection is refused, /readyz answers 503), a tunnel that finishes within
 * {@code limits.shutdown_grace} finishes normally, one still open at the grace is closed by
 * the daemon, both closes are audited with their byte counts before the process exits, and it
 * exits 0.
 */
@ExtendWith(E2eExtension.class)
class ShutdownIT {

    static final Duration GRACE = Duration.ofSeconds(3);

    @TempDir
    Path dir;
    EchoUpstream echo;
    Egressd egressd;

    @BeforeEach
    void start() throws Exception {
        echo = new EchoUpstream();
        int deadDns;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            deadDns = s.getLocalPort();
        }
        Path allowlists = Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(allowlists.resolve("app.yaml"), """
                server: app
                clients:
                  sources: [127.0.0.1/32]
                allow:
                  - cidr: 127.0.0.1/32
                    ports: [%d]
                """.formatted(echo.port()));
        egressd = Egressd.start(dir, Fixture.config("127.0.0.1:" + deadDns, """
                limits:
                  shutdown_grace: %dms
                """.formatted(GRACE.toMillis())));
    }

    @AfterEach
    void stop() throws Exception {
        Fixture.close(egressd, echo);
    }

    /** A CONNECT tunnel to the echo upstream, past its 200. */
    private ProxyClient tunnel() throws IOException {
        ProxyClient client = ProxyClient.open("127.0.0.1", egressd.proxyPort);
        assertThat(client.connect("127.0.0.1:" + echo.port()).status()).isEqualTo(200);
        return client;
    }

    /** Sends {@code text} through the tunnel and reads its echo; returns its length in bytes. */
    private static int roundTrip(ProxyClient tunnel, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        assertThat(new String(tunnel.echo(bytes), StandardCharsets.US_ASCII)).isEqualTo(text);
        return bytes.length;
    }

    private boolean refused(InetSocketAddress address) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(address, 2000);
            return false;
        } catch (ConnectException e) {
            return true;
        }
    }

    @Test
    void sigtermDrainsTunnelsForTheGraceThenClosesTheRestAuditsEveryCloseAndExitsZero() throws Exception {
        ProxyClient finishing = tunnel();
        ProxyClient lingering = tunnel();
        long firstBytes = roundTrip(finishing, "first through the finishing tunnel\n");
        long lingeringBytes = roundTrip(lingering, "first through the lingering tunnel\n");

        long signalled = System.nanoTime();
        egressd.kill("TERM");

        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                .until(() -> refused(egressd.proxy()));
        assertThat(egressd.admin("/readyz").statusCode()).isEqualTo(503);
        egressd.awaitStderr(l -> l.startsWith("egressd: stopping:"), Duration.ofSeconds(5));

        // Open tunnels still carry bytes during the grace; this one then finishes on its own.
        long finishingBytes = firstBytes + roundTrip(finishing, "second, after SIGTERM\n");
        finishing.close();

        // This one stays open: the daemon closes it once the grace has run out.
        assertThat(lingering.closedByPeer(20_000)).isTrue();
        long heldMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled);
        assertThat(heldMillis).as("closed at the grace, not before").isGreaterThanOrEqualTo(GRACE.toMillis() - 100);
        lingering.close();

        assertThat(egressd.awaitExit(Duration.ofSeconds(30))).isZero();
        assertThat(egressd.stderr()).contains("egressd: stopped; closed 1 connections still open at the grace");

        List<JsonNode> closes = AuditLines.validated(egressd.stdout()).stream()
                .filter(event("egress.closed")).toList();
        assertThat(closes).hasSize(2);
        assertThat(closes).allSatisfy(e -> assertThat(text(e, "protocol")).isEqualTo("connect"));
        assertThat(closes).anySatisfy(e -> {
            assertThat(e.get("bytes_sent").asLong()).isEqualTo(finishingBytes);
            assertThat(e.get("bytes_received").asLong()).isEqualTo(finishingBytes);
        });
        assertThat(closes).anySatisfy(e -> {
            assertThat(e.get("bytes_sent").asLong()).isEqualTo(lingeringBytes);
            assertThat(e.get("bytes_received").asLong()).isEqualTo(lingeringBytes);
        });
    }
}
