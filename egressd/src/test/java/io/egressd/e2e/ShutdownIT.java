package io.egressd.e2e;

import static io.egressd.e2e.AuditLines.event;
import static io.egressd.e2e.AuditLines.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
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
        egressd = Egressd.start(dir, """
                allowlists: allowlists
                listen:
                  http: 127.0.0.1:0
                  dns: 127.0.0.1:0
                  admin: 127.0.0.1:0
                dns:
                  upstreams: ["127.0.0.1:%d"]
                limits:
                  shutdown_grace: %dms
                """.formatted(deadDns, GRACE.toMillis()));
    }

    @AfterEach
    void stop() throws Exception {
        try {
            egressd.close();
        } finally {
            echo.close();
        }
    }

    /** A CONNECT tunnel to the echo upstream, past its 200. */
    private Socket tunnel() throws IOException {
        Socket s = new Socket();
        s.connect(egressd.proxy(), 5000);
        s.setSoTimeout(20_000);
        String target = "127.0.0.1:" + echo.port();
        s.getOutputStream().write(("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        assertThat(head(s.getInputStream())).startsWith("HTTP/1.1 200");
        return s;
    }

    private static String head(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) != -1) {
            b.append((char) c);
            if (b.length() >= 4 && b.substring(b.length() - 4).equals("\r\n\r\n")) {
                break;
            }
        }
        return b.toString();
    }

    /** Sends {@code text} through the tunnel and reads its echo; returns its length in bytes. */
    private static int roundTrip(Socket s, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        s.getOutputStream().write(bytes);
        byte[] back = s.getInputStream().readNBytes(bytes.length);
        assertThat(new String(back, StandardCharsets.US_ASCII)).isEqualTo(text);
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
        Socket finishing = tunnel();
        Socket lingering = tunnel();
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
        int end;
        try {
            end = lingering.getInputStream().read();
        } catch (SocketException reset) {
            end = -1;
        }
        long heldMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - signalled);
        assertThat(end).isEqualTo(-1);
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
