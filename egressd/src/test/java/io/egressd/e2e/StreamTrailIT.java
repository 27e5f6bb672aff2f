package io.egressd.e2e;

import static io.egressd.e2e.AuditLines.event;
import static io.egressd.e2e.AuditLines.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.egressd.metrics.Exposition;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Issue 7 through the real daemon: SOCKS5 (curl {@code --socks5-hostname} with user and password,
 * and a raw RFC 1928 client with exact byte counts) and two TCP forwards, one allowed and one whose
 * target name resolves outside the rules. The audit trail (each line valid against
 * docs/audit-event.schema.json) and /metrics then say exactly what was sent, per front.
 *
 * <p>Names resolve through a hosts file of the test's ({@code -Djdk.net.hosts.file}): the daemon's
 * lookups never leave the JVM, and a name not in it does not resolve.
 */
@ExtendWith(E2eExtension.class)
class StreamTrailIT {

    private static final String TOKEN = "socks-e2e-token";

    @TempDir
    Path dir;
    HttpUpstream http;
    EchoUpstream echo;
    Egressd egressd;

    @BeforeEach
    void start() throws Exception {
        http = new HttpUpstream();
        echo = new EchoUpstream();
        int allowedForward = freePort();
        int outsideForward = freePort();
        Path allowlists = Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(allowlists.resolve("app.yaml"), """
                server: app
                clients:
                  proxy_user: app
                  token_sha256: %s
                allow:
                  - host: api.test
                    ports: [%d]
                  - host: db.test
                    ports: [%d]
                  - cidr: 127.0.0.1/32
                    ports: [%d, %d]
                forwards:
                  - {listen: "127.0.0.1:%d", to: "127.0.0.1:%d"}
                  - {listen: "127.0.0.1:%d", to: "db.test:%d"}
                """.formatted(sha256(TOKEN), http.port(), echo.port(), http.port(), echo.port(),
                allowedForward, echo.port(), outsideForward, echo.port()));
        // The daemon asks for absolute names (docs/socks-and-forwards.md); db.test is loopback outside the rules.
        Path hosts = Files.writeString(dir.resolve("hosts"), "127.0.0.1 api.test.\n127.0.0.2 db.test.\n");
        egressd = Egressd.start(dir, """
                allowlists: allowlists
                listen:
                  http: 127.0.0.1:0
                  socks: 127.0.0.1:0
                  dns: 127.0.0.1:0
                  admin: 127.0.0.1:0
                dns:
                  upstreams: ["127.0.0.1:9"]
                """, List.of(), Map.of("EGRESSD_JAVA_OPTS", "-XX:+UseSerialGC -Xms16m -Xmx256m -XX:TieredStopAtLevel=1"
                + " -Djdk.net.hosts.file=" + hosts));
        assertThat(egressd.socksPort).isPositive();
        assertThat(egressd.forwards).containsExactly("127.0.0.1:" + allowedForward, "127.0.0.1:" + outsideForward);
    }

    @AfterEach
    void stop() throws Exception {
        Fixture.close(egressd, http, echo);
    }

    @Test
    void socks5AndForwardsAreAuditedAndCountedExactlyAsSent() throws Exception {
        String v = egressd.version;
        String socks = "app:" + TOKEN + "@127.0.0.1:" + egressd.socksPort;

        // ---- SOCKS5, allowed: curl with a name egressd resolves, and a raw client to an address by cidr rule
        Tools.Result curl = Tools.run("curl", "-sS", "--max-time", "20", "--socks5-hostname", socks,
                "http://api.test:" + http.port() + "/socks");
        assertThat(curl.exit()).as(curl.out()).isZero();
        assertThat(curl.out()).isEqualTo(HttpUpstream.BODY);
        byte[] big = new byte[1500];
        Arrays.fill(big, (byte) 's');
        try (Socket s = socks5(egressd.socksPort, echo.port())) {
            assertThat(echo(s, Arrays.copyOf(big, 1000))).hasSize(1000);
            assertThat(echo(s, Arrays.copyOf(big, 500))).hasSize(500);
        }

        // ---- SOCKS5, denied: a name no rule allows, refused 0x02 and never resolved
        Tools.Result denied = Tools.run("curl", "-sS", "--max-time", "20", "--socks5-hostname", socks,
                "http://evil.test:" + http.port() + "/exfiltrate");
        assertThat(denied.exit()).isEqualTo(97);
        assertThat(denied.out()).contains("SOCKS5 connection to evil.test. (2)");

        // ---- TCP forwards: one allowed (700 bytes each way), one whose name resolves outside the rules
        try (Socket s = new Socket()) {
            s.connect(address(egressd.forwards.get(0)), 5000);
            s.setSoTimeout(10_000);
            assertThat(echo(s, Arrays.copyOf(big, 700))).hasSize(700);
        }
        try (Socket s = new Socket()) {
            assertThatThrownBy(() -> {
                s.connect(address(egressd.forwards.get(1)), 5000);
                s.setSoTimeout(10_000);
                s.getOutputStream().write("startup".getBytes(StandardCharsets.US_ASCII));
                while (s.getInputStream().read() >= 0) {
                    // drain until the reset
                }
            }).isInstanceOf(SocketException.class).hasMessageContaining("reset");
        }

        // policy.loaded, 3 egress.closed (curl, raw SOCKS5, forward), 2 egress.denied
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(() -> egressd.stdout().size() >= 6);
        List<JsonNode> events = AuditLines.validated(egressd.stdout());
        assertThat(AuditLines.countBy(events, e -> text(e, "event")))
                .isEqualTo(Map.of("policy.loaded", 1L, "egress.closed", 3L, "egress.denied", 2L));

        // Every allowed stream, as its egress.closed line says; the echo streams' bytes are exact.
        List<JsonNode> closed = events.stream().filter(event("egress.closed")).toList();
        for (JsonNode e : closed) {
            assertThat(AuditLines.fields(e)).containsExactly("time", "event", "server", "mode", "would_deny",
                    "protocol", "client", "host", "port", "address", "rule", "bytes_sent", "bytes_received",
                    "duration_ms", "policy_version");
            assertThat(e.get("duration_ms").asLong()).isBetween(0L, 20_000L);
        }
        assertThat(closed.stream().map(e -> text(e, "protocol") + " " + text(e, "host") + ":" + e.get("port").asInt()
                + " " + text(e, "address") + " " + text(e, "rule") + " " + e.get("bytes_sent").asLong() + "/"
                + e.get("bytes_received").asLong()).toList())
                .containsExactlyInAnyOrder(
                        "socks5 api.test:" + http.port() + " 127.0.0.1 allowlists/app.yaml#allow[2] "
                                + curlBytes(closed),
                        "socks5 127.0.0.1:" + echo.port() + " 127.0.0.1 allowlists/app.yaml#allow[2] 1500/1500",
                        "tcp 127.0.0.1:" + echo.port() + " 127.0.0.1 allowlists/app.yaml#allow[2] 700/700");
        JsonNode viaCurl = closed.stream().filter(e -> text(e, "host").equals("api.test")).findFirst().orElseThrow();
        assertThat(viaCurl.get("bytes_sent").asLong()).as("curl's request").isBetween(40L, 400L);
        assertThat(viaCurl.get("bytes_received").asLong()).as("the response, head and body")
                .isGreaterThan(HttpUpstream.BODY.length());

        // Each denial, every field.
        assertThat(events.stream().filter(event("egress.denied")).map(AuditLines::withoutTimeAndClientPort).toList())
                .containsExactlyInAnyOrder(
                        "{\"event\":\"egress.denied\",\"server\":\"app\",\"mode\":\"enforce\",\"protocol\":\"socks5\","
                                + "\"client\":\"127.0.0.1:*\",\"host\":\"evil.test\",\"port\":" + http.port()
                                + ",\"reason\":\"host_not_allowed\",\"policy_version\":\"" + v + "\"}",
                        "{\"event\":\"egress.denied\",\"server\":\"app\",\"mode\":\"enforce\",\"protocol\":\"tcp\","
                                + "\"client\":\"127.0.0.1:*\",\"host\":\"db.test\",\"port\":" + echo.port()
                                + ",\"rule\":\"allowlists/app.yaml#allow[1]\",\"reason\":\"address_not_allowed\","
                                + "\"policy_version\":\"" + v + "\"}");

        // /metrics agrees, count for count.
        String metrics = egressd.scrape();
        Map<String, Long> decisions = new TreeMap<>();
        for (Exposition.Sample s : Exposition.samples(metrics, "egressd_decisions_total")) {
            if (s.value() > 0) {
                decisions.put(s.labels().get("server") + "/" + s.labels().get("protocol") + "/"
                        + s.labels().get("decision") + "/" + s.labels().get("reason"), (long) s.value());
            }
        }
        assertThat(decisions).isEqualTo(Map.of(
                "app/socks5/allowed/none", 2L,
                "app/socks5/denied/host_not_allowed", 1L,
                "app/tcp/allowed/none", 1L,
                "app/tcp/denied/address_not_allowed", 1L));
        // Three upstream connections were opened (two by SOCKS5, one by the forward), each one timed.
        assertThat((long) Exposition.samples(metrics, "egressd_upstream_connect_seconds_count").get(0).value())
                .isEqualTo(3L);
        assertThat(Exposition.sum(metrics, "egressd_bytes_total", Egressd.labels("server", "app", "direction", "sent")))
                .isEqualTo(closed.stream().mapToLong(e -> e.get("bytes_sent").asLong()).sum());
        assertThat(Exposition.sum(metrics, "egressd_bytes_total",
                Egressd.labels("server", "app", "direction", "received")))
                .isEqualTo(closed.stream().mapToLong(e -> e.get("bytes_received").asLong()).sum());
        // Both fronts had a connection open, and have none now.
        assertThat(Exposition.samples(metrics, "egressd_connections_active"))
                .extracting(s -> s.labels().get("server") + "/" + s.labels().get("protocol") + "=" + (long) s.value())
                .contains("app/socks5=0", "app/tcp=0")
                .allSatisfy(s -> assertThat(s).endsWith("=0"));
        Map<String, Long> audited = new TreeMap<>();
        for (Exposition.Sample s : Exposition.samples(metrics, "egressd_audit_events_total")) {
            if (s.value() > 0) {
                audited.put(s.labels().get("event"), (long) s.value());
            }
        }
        assertThat(audited).isEqualTo(Map.of("policy.loaded", 1L, "egress.closed", 3L, "egress.denied", 2L));

        // The refusals reached no upstream: one HTTP request (curl's), two echo connections (SOCKS5, forward).
        assertThat(http.requests).hasValue(1);
        assertThat(echo.connections).hasValue(2);
    }

    /** The curl stream's line's own counts: they depend on curl's request, so the check above takes them as read. */
    private static String curlBytes(List<JsonNode> closed) {
        JsonNode e = closed.stream().filter(c -> text(c, "host").equals("api.test")).findFirst().orElseThrow();
        return e.get("bytes_sent").asLong() + "/" + e.get("bytes_received").asLong();
    }

    /** RFC 1928 and 1929 by hand: password login as app, then CONNECT to 127.0.0.1:{@code port}. */
    private static Socket socks5(int socksPort, int port) throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", socksPort), 5000);
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        DataInputStream in = new DataInputStream(s.getInputStream());
        out.write(new byte[] {5, 1, 2});
        assertThat(in.readShort()).as("method: username/password").isEqualTo((short) 0x0502);
        byte[] user = "app".getBytes(StandardCharsets.US_ASCII);
        byte[] token = TOKEN.getBytes(StandardCharsets.US_ASCII);
        byte[] login = new byte[3 + user.length + token.length];
        login[0] = 1;
        login[1] = (byte) user.length;
        System.arraycopy(user, 0, login, 2, user.length);
        login[2 + user.length] = (byte) token.length;
        System.arraycopy(token, 0, login, 3 + user.length, token.length);
        out.write(login);
        assertThat(in.readShort()).as("login accepted").isEqualTo((short) 0x0100);
        out.write(new byte[] {5, 1, 0, 1, 127, 0, 0, 1, (byte) (port >> 8), (byte) port});
        byte[] reply = new byte[10];
        in.readFully(reply);
        assertThat(reply[1]).as("reply code").isZero();
        return s;
    }

    private static byte[] echo(Socket s, byte[] bytes) throws IOException {
        s.getOutputStream().write(bytes);
        s.getOutputStream().flush();
        InputStream in = s.getInputStream();
        return in.readNBytes(bytes.length);
    }

    private static InetSocketAddress address(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    private static String sha256(String text) throws Exception {
        return HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
    }
}
