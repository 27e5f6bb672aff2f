package io.egressd.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.metrics.PrometheusServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Issue 5, third "must show": a real Prometheus (the Debian binary) on loopback scrapes the real
 * daemon's admin listener every second and evaluates deploy/prometheus/egressd-alerts.yaml every
 * second; a burst of real denied requests through the proxy makes EgressdDeniedEgressSpike fire
 * for that server, and only for it, as seen through Prometheus's HTTP API. Meanwhile a report-mode
 * server's would-deny traffic (which flows) raises EgressdReportModeWouldDeny for it.
 */
@ExtendWith(E2eExtension.class)
class PrometheusAlertIT {

    @TempDir
    Path dir;
    HttpUpstream http;
    Egressd egressd;
    PrometheusServer prometheus;

    @BeforeEach
    void start() throws Exception {
        http = new HttpUpstream();
        Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(dir.resolve("allowlists/app.yaml"), """
                server: app
                clients:
                  sources: [127.0.0.1/32]
                allow:
                  - host: api.example.com
                """);
        Files.writeString(dir.resolve("allowlists/quiet.yaml"), """
                server: quiet
                clients:
                  sources: [127.0.0.2/32]
                allow:
                  - host: docs.example.com
                """);
        Files.writeString(dir.resolve("allowlists/reporter.yaml"), """
                server: reporter
                mode: report
                clients:
                  sources: [127.0.0.3/32]
                allow:
                  - cidr: 127.0.0.1/32
                    ports: [1]
                """);
        egressd = Egressd.start(dir, Fixture.config("127.0.0.1:9", ""));
        prometheus = PrometheusServer.start(dir, egressd.adminPort);
    }

    @AfterEach
    void stop() throws Exception {
        Fixture.close(prometheus, egressd, http);
    }

    /** A request by the report-mode server that its list does not allow: it flows, as a would-deny. */
    private void wouldDeny() throws Exception {
        try (ProxyClient c = ProxyClient.open("127.0.0.3", egressd.proxyPort)) {
            assertThat(c.get(http.url("/reported")).status()).isEqualTo(200);
        }
    }

    /** {@code count} plain-HTTP requests to denied hosts from {@code source}, on one kept-alive connection. */
    private void deny(String source, String prefix, int count) throws Exception {
        try (ProxyClient c = ProxyClient.open(source, egressd.proxyPort)) {
            for (int i = 0; i < count; i++) {
                assertThat(c.get("http://" + prefix + i + ".exfil.example/").status()).isEqualTo(403);
            }
        }
    }

    @Test
    void realDenialsFireTheDeniedEgressAlertForTheirServerOnlyAndWouldDeniesTheReportModeAlert() throws Exception {
        try {
            prometheus.awaitReady(Duration.ofSeconds(60));
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250))
                    .until(() -> prometheus.query("up{job=\"egressd\"}") == 1.0
                            && prometheus.query("egressd_ready") == 1.0);

            // A first denial for each server, so their series exist in Prometheus before the burst (a
            // fresh Prometheus has no history to tell a new series from an old one; the rules then use
            // plain increase()).
            deny("127.0.0.1", "first", 1);
            deny("127.0.0.2", "first", 1);
            wouldDeny();
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250)).until(() ->
                    prometheus.query("sum(egressd_decisions_total{server=\"app\",decision=\"denied\"})") == 1.0
                    && prometheus.query("sum(egressd_decisions_total{server=\"quiet\",decision=\"denied\"})") == 1.0
                    && prometheus.query("sum(egressd_decisions_total{server=\"reporter\",decision=\"would_deny\"})")
                    == 1.0);

            // The burst: 100 refused requests by app over plain HTTP, 20 refused CONNECTs; quiet stays below.
            deny("127.0.0.1", "burst", 100);
            for (int i = 0; i < 20; i++) {
                try (ProxyClient c = ProxyClient.open("127.0.0.1", egressd.proxyPort)) {
                    assertThat(c.connect("tunnel" + i + ".exfil.example:443").status()).isEqualTo(403);
                }
            }
            deny("127.0.0.2", "few", 10);
            wouldDeny();
            assertThat(http.requests).hasValue(2);
            assertThat(egressd.metric("egressd_decisions_total", "server", "app", "decision", "denied"))
                    .isEqualTo(121);

            long burst = System.nanoTime();
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofSeconds(1))
                    .until(() -> prometheus.alertNames("firing").contains("EgressdDeniedEgressSpike/app"));
            long firedAfter = (System.nanoTime() - burst) / 1_000_000;

            assertThat(prometheus.alertNames("firing")).containsExactlyInAnyOrder("EgressdDeniedEgressSpike/app",
                    "EgressdReportModeWouldDeny/reporter");
            assertThat(prometheus.alertNames("pending")).isEmpty();
            JsonNode alert = prometheus.alerts("firing").stream().filter(a -> a.get("labels").get("alertname")
                    .asString().equals("EgressdDeniedEgressSpike")).findFirst().orElseThrow();
            assertThat(alert.get("labels").get("severity").asString()).isEqualTo("critical");
            assertThat(alert.get("annotations").get("summary").asString())
                    .startsWith("MCP server app: ").endsWith(" denied egress attempts in 5 minutes");
            assertThat(prometheus.query("server:egressd_denied_egress:increase5m{server=\"app\"}"))
                    .isGreaterThan(50);
            assertThat(prometheus.query("sum(egressd_decisions_total{server=\"app\",decision=\"denied\"})"))
                    .isEqualTo(121);
            assertThat(prometheus.query(
                    "sum(egressd_decisions_total{server=\"app\",decision=\"denied\",protocol=\"connect\"})"))
                    .isEqualTo(20);
            assertThat(prometheus.query("sum(egressd_decisions_total{server=\"quiet\",decision=\"denied\"})"))
                    .isEqualTo(11);
            assertThat(prometheus.query("sum(egressd_decisions_total{server=\"reporter\",decision=\"would_deny\"})"))
                    .isEqualTo(2);
            assertThat(prometheus.query("egressd_audit_events_total{event=\"egress.denied\"}")).isEqualTo(132);
            assertThat(prometheus.query("egressd_audit_events_total{event=\"egress.allowed\"}")).isEqualTo(2);
            assertThat(egressd.stdout().stream().filter(l -> l.contains("\"event\":\"egress.denied\"")))
                    .hasSize(132);
            System.out.printf("PrometheusAlertIT: EgressdDeniedEgressSpike fired %d ms after the burst%n",
                    firedAfter);
        } catch (AssertionError | RuntimeException e) {
            System.err.println("prometheus log:\n" + prometheus.log());
            throw e;
        }
    }
}
