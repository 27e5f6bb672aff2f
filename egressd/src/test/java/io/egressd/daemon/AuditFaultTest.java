package io.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.egressd.config.Config;
import io.egressd.metrics.Exposition;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * Issue 9 item 4: when the audit output cannot be written, the daemon refuses egress on every
 * front with {@code audit_unavailable} (audit.on_failure: refuse, the default), or keeps serving
 * (continue); either way it says so once on stderr and in /metrics, and it resumes once writes
 * succeed again. Real faults: /dev/full (every write fails with ENOSPC, as on a full disk) and
 * the audit file's directory removed while the daemon runs (the file is reopened, and that fails,
 * as it would for a volume gone or a permission taken away; as root, chmod would not stop a write).
 */
class AuditFaultTest {

    @TempDir
    Path dir;
    HttpServer upstream;
    int port;
    final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);
    final HttpClient admin = HttpClient.newHttpClient();

    @BeforeEach
    void startUpstream() throws IOException {
        upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        upstream.createContext("/", exchange -> {
            byte[] body = "hello from upstream\n".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        upstream.start();
        port = upstream.getAddress().getPort();
        Path lists = Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(lists.resolve("app.yaml"), """
                server: app
                clients: {sources: [127.0.0.1/32]}
                allow:
                  - host: allowed.example.com
                  - cidr: 127.0.0.1/32
                    ports: [%d]
                """.formatted(port));
    }

    @AfterEach
    void stopUpstream() {
        upstream.stop(0);
    }

    private Config config(String auditOutput, boolean refuse) throws IOException {
        Config d = Config.defaults();
        InetSocketAddress any = new InetSocketAddress("127.0.0.1", 0);
        int deadDns;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            deadDns = s.getLocalPort();
        }
        return new Config(null, dir.resolve("allowlists"), null, new Config.Listen(any, any, any, any),
                new Config.Dns(List.of("127.0.0.1:" + deadDns), "NXDOMAIN", Duration.ofSeconds(1), 16, 16,
                        Duration.ofSeconds(5), d.dns().udpQueriesPerSecondPerSource(), d.dns().udpQueryBurstPerSource()),
                new Config.Audit(auditOutput, true, false, refuse), d.deny(), d.limits());
    }

    /**
     * A link to /dev/full, not the device itself: whatever the sink did to its path (a rotation
     * renames the file it rotates), the device stays where every other program expects it.
     */
    private String devFull() throws IOException {
        return Files.createSymbolicLink(dir.resolve("audit.log"), Path.of("/dev/full")).toString();
    }

    private List<String> stderr() {
        return errBytes.toString(StandardCharsets.UTF_8).lines().toList();
    }

    private double metric(Daemon daemon, String name, String... labels) throws Exception {
        HttpResponse<String> r = admin.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + daemon.adminAddress().getPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        Map<String, String> match = new java.util.LinkedHashMap<>();
        for (int i = 0; i < labels.length; i += 2) {
            match.put(labels[i], labels[i + 1]);
        }
        return Exposition.sum(r.body(), name, match);
    }

    private HttpResponse<String> get(Daemon daemon) throws Exception {
        HttpClient client = HttpClient.newBuilder().proxy(ProxySelector.of(daemon.proxyAddress()))
                .version(HttpClient.Version.HTTP_1_1).build();
        return client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** The status line and headers the proxy answers a CONNECT with. */
    private String connect(Daemon daemon) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(daemon.proxyAddress(), 5000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("CONNECT 127.0.0.1:" + port + " HTTP/1.1\r\nHost: 127.0.0.1:" + port
                    + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            return head(s.getInputStream());
        }
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

    /** The SOCKS5 reply code (RFC 1928) to a CONNECT for the upstream; 0 is success, 2 "not allowed by ruleset". */
    private int socks(Daemon daemon) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(daemon.socksAddress(), 5000);
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            DataInputStream in = new DataInputStream(s.getInputStream());
            out.write(new byte[] {5, 1, 0});
            byte[] method = new byte[2];
            in.readFully(method);
            assertThat(method).containsExactly(5, 0);
            out.write(new byte[] {5, 1, 0, 1, 127, 0, 0, 1, (byte) (port >> 8), (byte) port});
            byte[] reply = new byte[2];
            in.readFully(reply);
            return reply[1];
        }
    }

    private int dnsRcode(Daemon daemon, String name) throws IOException {
        SimpleResolver resolver = new SimpleResolver(daemon.dnsAddress());
        resolver.setTimeout(Duration.ofSeconds(5));
        Message answer = resolver.send(Message.newQuery(Record.newRecord(Name.fromString(name + "."), Type.A,
                DClass.IN)));
        return answer.getHeader().getRcode();
    }

    @Test
    void aFullDiskRefusesEveryFrontWithAuditUnavailableAndSaysSoOnce() throws Exception {
        try (Daemon daemon = Daemon.start(config(devFull(), true), err)) {
            // The policy.loaded line at startup is the first write to fail.
            await().atMost(Duration.ofSeconds(10)).until(() -> metric(daemon, "egressd_audit_healthy") == 0);

            HttpResponse<String> http = get(daemon);
            assertThat(http.statusCode()).isEqualTo(403);
            assertThat(http.headers().firstValue("X-Egressd-Denied")).contains("audit_unavailable");
            assertThat(http.body()).contains("reason: audit_unavailable");
            String connect = connect(daemon);
            assertThat(connect).startsWith("HTTP/1.1 403").contains("X-Egressd-Denied: audit_unavailable");
            assertThat(socks(daemon)).isEqualTo(2);
            assertThat(dnsRcode(daemon, "allowed.example.com")).isEqualTo(Rcode.NXDOMAIN);

            for (String protocol : List.of("http", "connect", "socks5", "dns")) {
                assertThat(metric(daemon, "egressd_decisions_total", "protocol", protocol, "decision", "denied",
                        "reason", "audit_unavailable")).as(protocol).isEqualTo(1);
            }
            assertThat(metric(daemon, "egressd_decisions_total", "decision", "allowed")).isZero();
            assertThat(metric(daemon, "egressd_audit_write_failures_total")).isGreaterThanOrEqualTo(1);
            // Retried, not lost: the startup line is still held for when the disk has room.
            assertThat(metric(daemon, "egressd_audit_lines_lost_total")).isZero();
        }
        List<String> faults = stderr().stream().filter(l -> l.contains("audit output cannot be written")).toList();
        assertThat(faults).hasSize(1);
        assertThat(faults.get(0)).contains("No space left on device").contains("refusing new connections");
    }

    @Test
    void continueKeepsServingThroughAFullDiskAndReportsTheFailures() throws Exception {
        try (Daemon daemon = Daemon.start(config(devFull(), false), err)) {
            await().atMost(Duration.ofSeconds(10)).until(() -> metric(daemon, "egressd_audit_healthy") == 0);

            for (int i = 0; i < 3; i++) {
                HttpResponse<String> http = get(daemon);
                assertThat(http.statusCode()).isEqualTo(200);
                assertThat(http.body()).isEqualTo("hello from upstream\n");
            }
            assertThat(connect(daemon)).startsWith("HTTP/1.1 200");
            assertThat(socks(daemon)).isZero();
            // Refused by the policy, not by the audit: the name is not allowed.
            assertThat(dnsRcode(daemon, "nope.example.org")).isEqualTo(Rcode.NXDOMAIN);
            assertThat(metric(daemon, "egressd_decisions_total", "reason", "audit_unavailable")).isZero();
            assertThat(metric(daemon, "egressd_decisions_total", "protocol", "dns", "reason", "host_not_allowed"))
                    .isEqualTo(1);
            // policy.loaded, 3 egress.closed, and the denial at least: every one failed and was dropped.
            await().atMost(Duration.ofSeconds(10))
                    .until(() -> metric(daemon, "egressd_audit_lines_lost_total") >= 5);
            assertThat(metric(daemon, "egressd_audit_write_failures_total")).isGreaterThanOrEqualTo(5);
            assertThat(metric(daemon, "egressd_audit_healthy")).isZero();
        }
        List<String> faults = stderr().stream().filter(l -> l.contains("audit output cannot be written")).toList();
        assertThat(faults).hasSize(1);
        assertThat(faults.get(0)).contains("No space left on device").contains("still serving");
    }

    @Test
    void aRemovedAuditDirectoryRefusesUntilItIsBackAndLosesNoLine() throws Exception {
        Path auditDir = dir.resolve("audit");
        Path file = auditDir.resolve("audit.log");
        try (Daemon daemon = Daemon.start(config(file.toString(), true), err)) {
            assertThat(get(daemon).statusCode()).isEqualTo(200);
            await().atMost(Duration.ofSeconds(10)).until(() -> Files.readString(file).contains("egress.closed"));
            assertThat(metric(daemon, "egressd_audit_healthy")).isEqualTo(1);

            delete(auditDir);
            // The next line (this request's egress.closed) finds the file gone and cannot reopen it.
            assertThat(get(daemon).statusCode()).isEqualTo(200);
            await().atMost(Duration.ofSeconds(10)).until(() -> metric(daemon, "egressd_audit_healthy") == 0);
            HttpResponse<String> refused = get(daemon);
            assertThat(refused.statusCode()).isEqualTo(403);
            assertThat(refused.headers().firstValue("X-Egressd-Denied")).contains("audit_unavailable");
            assertThat(dnsRcode(daemon, "allowed.example.com")).isEqualTo(Rcode.NXDOMAIN);

            Files.createDirectories(auditDir);
            await().atMost(Duration.ofSeconds(10)).until(() -> metric(daemon, "egressd_audit_healthy") == 1);
            await().atMost(Duration.ofSeconds(10)).until(() -> get(daemon).statusCode() == 200);
            // The line that met the fault was held and written into the new file; the refusals are not audited.
            await().atMost(Duration.ofSeconds(10)).until(() -> Files.readAllLines(file).stream()
                    .filter(l -> l.contains("\"event\":\"egress.closed\"")).count() >= 2);
            assertThat(Files.readString(file)).doesNotContain("audit_unavailable");
            assertThat(metric(daemon, "egressd_audit_lines_lost_total")).isZero();
        }
        assertThat(stderr().stream().filter(l -> l.contains("audit output cannot be written"))).hasSize(1);
        assertThat(stderr().stream().filter(l -> l.contains("audit output written again"))).hasSize(1);
    }

    private static void delete(Path tree) throws IOException {
        try (Stream<Path> paths = Files.walk(tree)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
