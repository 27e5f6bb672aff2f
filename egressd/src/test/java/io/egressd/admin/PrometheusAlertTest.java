package io.egressd.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.audit.AuditFormat;
import io.egressd.audit.AuditSchema;
import io.egressd.audit.Auditor;
import io.egressd.audit.RecordingSink;
import io.egressd.audit.Samples;
import io.egressd.metrics.CountingAuditSink;
import io.egressd.metrics.EgressMetrics;
import io.egressd.metrics.EgressObservers;
import io.egressd.metrics.PrometheusMetrics;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * A real Prometheus (the Debian binary) on loopback scrapes the admin listener every second and
 * evaluates deploy/prometheus/egressd-alerts.yaml every second; a burst of denials fed through
 * the listener makes EgressdDeniedEgressSpike fire, as seen through Prometheus's HTTP API.
 */
class PrometheusAlertTest {

    @TempDir
    Path dir;

    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    final PrometheusMetrics prometheusMetrics = new PrometheusMetrics();
    final EgressMetrics metrics = new EgressMetrics(prometheusMetrics.registry(), Clock.systemUTC());
    final RecordingSink audit = new RecordingSink();
    final EgressObservers listener = new EgressObservers(
            new Auditor(new CountingAuditSink(audit, metrics), new AuditFormat(Clock.systemUTC()), true, false),
            metrics);
    final ReadinessFlags readiness = new ReadinessFlags("policy", "listeners");
    AdminServer admin;
    Process prometheus;
    Path prometheusLog;
    int prometheusPort;

    @BeforeEach
    void start() throws Exception {
        metrics.bindReadiness(readiness::ready);
        readiness.met("policy");
        readiness.met("listeners");
        admin = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), prometheusMetrics::scrape, readiness);

        prometheusPort = freePort();
        Path config = dir.resolve("prometheus.yml");
        Files.writeString(config, String.join("\n",
                "global:",
                "  scrape_interval: 1s",
                "  scrape_timeout: 1s",
                "  evaluation_interval: 1s",
                "rule_files:",
                "  - " + AuditSchema.ROOT.resolve("deploy/prometheus/egressd-alerts.yaml"),
                "scrape_configs:",
                "  - job_name: egressd",
                "    static_configs:",
                "      - targets: ['127.0.0.1:" + admin.address().getPort() + "']",
                ""));
        prometheusLog = dir.resolve("prometheus.log");
        prometheus = new ProcessBuilder("prometheus",
                "--config.file=" + config,
                "--storage.tsdb.path=" + dir.resolve("data"),
                "--web.listen-address=127.0.0.1:" + prometheusPort,
                "--log.level=warn")
                .redirectErrorStream(true).redirectOutput(prometheusLog.toFile()).start();
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (prometheus != null) {
                prometheus.destroy();
                if (!prometheus.waitFor(10, TimeUnit.SECONDS)) {
                    prometheus.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            }
        } finally {
            if (admin != null) {
                admin.close();
            }
            prometheusMetrics.close();
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    JsonNode api(String pathAndQuery) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + prometheusPort + pathAndQuery)).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return AuditSchema.JSON.readTree(r.body());
    }

    boolean ready() {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + prometheusPort + "/-/ready"))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (Exception e) {
            return false;
        }
    }

    double query(String promql) throws Exception {
        JsonNode result = api("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8))
                .get("data").get("result");
        return result.isEmpty() ? Double.NaN : Double.parseDouble(result.get(0).get("value").get(1).asString());
    }

    List<JsonNode> alerts(String state) throws Exception {
        List<JsonNode> found = new ArrayList<>();
        for (JsonNode alert : api("/api/v1/alerts").get("data").get("alerts")) {
            if (alert.get("state").asString().equals(state)) {
                found.add(alert);
            }
        }
        return found;
    }

    void deny(String server, int count) {
        for (int i = 0; i < count; i++) {
            listener.decided(Protocol.CONNECT, Samples.client(20_000 + i % 1000),
                    Samples.denied(server, "x" + i + ".exfil.example", 443, Reason.HOST_NOT_ALLOWED));
        }
    }

    @Test
    void aBurstOfDenialsFiresTheDeniedEgressAlert() throws Exception {
        try {
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200)).until(this::ready);
            // A first denial, so the series exists in Prometheus before the burst (a fresh Prometheus
            // has no history to tell a new series from an old one, so the rules use plain increase()).
            deny("slack", 1);
            deny("github", 1);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
                    .until(() -> query("sum(egressd_decisions_total{server=\"slack\",decision=\"denied\"})") == 1.0);

            deny("slack", 200);
            deny("github", 4);

            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofSeconds(1))
                    .until(() -> alerts("firing").stream().anyMatch(a ->
                            a.get("labels").get("alertname").asString().equals("EgressdDeniedEgressSpike")));

            List<JsonNode> firing = alerts("firing");
            assertThat(firing).extracting(a -> a.get("labels").get("alertname").asString() + "/"
                    + (a.get("labels").has("server") ? a.get("labels").get("server").asString() : "-"))
                    .containsExactly("EgressdDeniedEgressSpike/slack");
            JsonNode alert = firing.get(0);
            assertThat(alert.get("labels").get("severity").asString()).isEqualTo("critical");
            assertThat(alert.get("annotations").get("summary").asString())
                    .startsWith("MCP server slack: ").endsWith(" denied egress attempts in 5 minutes");
            assertThat(query("server:egressd_denied_egress:increase5m{server=\"slack\"}")).isGreaterThan(50);
            assertThat(query("sum(egressd_decisions_total{server=\"slack\",decision=\"denied\"})")).isEqualTo(201);
            assertThat(audit.lines).hasSize(206);
        } catch (AssertionError | RuntimeException e) {
            System.err.println("prometheus log:\n" + Files.readString(prometheusLog));
            throw e;
        }
    }
}
