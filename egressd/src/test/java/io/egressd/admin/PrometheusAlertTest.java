package io.egressd.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.audit.AuditFormat;
import io.egressd.audit.Auditor;
import io.egressd.audit.RecordingSink;
import io.egressd.audit.Samples;
import io.egressd.metrics.CountingAuditSink;
import io.egressd.metrics.EgressMetrics;
import io.egressd.metrics.EgressObservers;
import io.egressd.metrics.PrometheusMetrics;
import io.egressd.metrics.PrometheusServer;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * A real Prometheus (the Debian binary) on loopback scrapes the admin listener every second and
 * evaluates deploy/prometheus/egressd-alerts.yaml every second; a burst of denials fed through
 * the listener makes EgressdDeniedEgressSpike fire, as seen through Prometheus's HTTP API.
 * (io.egressd.e2e.PrometheusAlertIT does the same against the real daemon and real requests.)
 */
class PrometheusAlertTest {

    @TempDir
    Path dir;

    final PrometheusMetrics prometheusMetrics = new PrometheusMetrics();
    final EgressMetrics metrics = new EgressMetrics(prometheusMetrics.registry(), Clock.systemUTC());
    final RecordingSink audit = new RecordingSink();
    final EgressObservers listener = new EgressObservers(
            new Auditor(new CountingAuditSink(audit, metrics), new AuditFormat(Clock.systemUTC()), true, false),
            metrics);
    final ReadinessFlags readiness = new ReadinessFlags("policy", "listeners");
    AdminServer admin;
    PrometheusServer prometheus;

    @BeforeEach
    void start() throws Exception {
        metrics.bindReadiness(readiness::ready);
        readiness.met("policy");
        readiness.met("listeners");
        admin = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), prometheusMetrics::scrape, readiness);
        prometheus = PrometheusServer.start(dir, admin.address().getPort());
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (prometheus != null) {
                prometheus.close();
            }
        } finally {
            if (admin != null) {
                admin.close();
            }
            prometheusMetrics.close();
        }
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
            prometheus.awaitReady(Duration.ofSeconds(60));
            // A first denial, so the series exists in Prometheus before the burst (a fresh Prometheus
            // has no history to tell a new series from an old one, so the rules use plain increase()).
            deny("slack", 1);
            deny("github", 1);
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(250)).until(() ->
                    prometheus.query("sum(egressd_decisions_total{server=\"slack\",decision=\"denied\"})") == 1.0);

            deny("slack", 200);
            deny("github", 4);

            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofSeconds(1))
                    .until(() -> prometheus.alertNames("firing").contains("EgressdDeniedEgressSpike/slack"));

            assertThat(prometheus.alertNames("firing")).containsExactly("EgressdDeniedEgressSpike/slack");
            JsonNode alert = prometheus.alerts("firing").get(0);
            assertThat(alert.get("labels").get("severity").asString()).isEqualTo("critical");
            assertThat(alert.get("annotations").get("summary").asString())
                    .startsWith("MCP server slack: ").endsWith(" denied egress attempts in 5 minutes");
            assertThat(prometheus.query("server:egressd_denied_egress:increase5m{server=\"slack\"}"))
                    .isGreaterThan(50);
            assertThat(prometheus.query("sum(egressd_decisions_total{server=\"slack\",decision=\"denied\"})"))
                    .isEqualTo(201);
            assertThat(audit.lines).hasSize(206);
        } catch (AssertionError | RuntimeException e) {
            System.err.println("prometheus log:\n" + prometheus.log());
            throw e;
        }
    }
}
