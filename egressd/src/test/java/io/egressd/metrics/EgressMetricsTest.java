package io.egressd.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.audit.AuditEvent;
import io.egressd.audit.AuditSchema;
import io.egressd.audit.RecordingSink;
import io.egressd.audit.Samples;
import io.egressd.policy.Decision;
import io.egressd.policy.Front;
import io.egressd.policy.Mode;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import io.egressd.policy.Rejection;
import io.egressd.policy.ValidationError;
import io.egressd.reload.Trigger;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Names and labels as design.md section 8, bounded label values, and an exposition promtool accepts. */
class EgressMetricsTest {

    final PrometheusMetrics prometheus = new PrometheusMetrics();
    final EgressMetrics metrics = new EgressMetrics(prometheus.registry(),
            Clock.fixed(Instant.parse("2025-11-27T09:04:05.250Z"), ZoneOffset.UTC));
    final InetSocketAddress client = new InetSocketAddress(Samples.ip(127, 0, 0, 7), 54321);

    @AfterEach
    void close() {
        prometheus.close();
    }

    double value(String name, Map<String, String> labels) {
        return Exposition.sum(prometheus.scrape(), name, labels);
    }

    @Test
    void decisionsAreCountedByServerProtocolDecisionAndReason() {
        metrics.decided(Protocol.CONNECT, client, Samples.denied("slack", "evil.example", 443, Reason.HOST_NOT_ALLOWED));
        metrics.decided(Protocol.CONNECT, client, Samples.denied("slack", "evil.example", 443, Reason.HOST_NOT_ALLOWED));
        metrics.decided(Protocol.HTTP, client, Samples.denied("slack", "slack.com", 8080, Reason.PORT_NOT_ALLOWED));
        metrics.decided(Protocol.CONNECT, client, Samples.allowed("slack", "slack.com", 443));

        assertThat(value("egressd_decisions_total", Map.of("server", "slack", "protocol", "connect",
                "decision", "denied", "reason", "host_not_allowed"))).isEqualTo(2);
        assertThat(value("egressd_decisions_total", Map.of("server", "slack", "protocol", "http",
                "decision", "denied", "reason", "port_not_allowed"))).isEqualTo(1);
        assertThat(value("egressd_decisions_total", Map.of("server", "slack", "protocol", "connect",
                "decision", "allowed", "reason", "none"))).isEqualTo(1);
    }

    @Test
    void labelSetsThatDifferInOneLabelCountApartOnEveryRepeat() {
        // The meters are cached by label set (hand-written key equality): each set keeps its own count.
        Decision invalidName = new Decision(false, Reason.UNKNOWN_CLIENT, "Not A Name", Mode.ENFORCE, false,
                "x.example", 80, null, null, Samples.VERSION);
        for (int i = 0; i < 3; i++) {
            metrics.decided(Protocol.HTTP, client, Samples.allowed("slack", "slack.com", 443));
            metrics.decided(Protocol.CONNECT, client, Samples.allowed("slack", "slack.com", 443));
            metrics.decided(Protocol.CONNECT, client, Samples.allowed("fetch", "slack.com", 443));
            metrics.decided(Protocol.CONNECT, client, Samples.denied("slack", "evil.example", 443,
                    Reason.HOST_NOT_ALLOWED));
            metrics.decided(Protocol.CONNECT, client, Samples.denied("slack", "slack.com", 25,
                    Reason.PORT_NOT_ALLOWED));
            metrics.decided(Protocol.HTTP, client, invalidName);
        }
        assertThat(value("egressd_decisions_total", Map.of("server", "slack", "protocol", "http",
                "decision", "allowed"))).isEqualTo(3);
        assertThat(value("egressd_decisions_total", Map.of("server", "slack", "protocol", "connect",
                "decision", "allowed"))).isEqualTo(3);
        assertThat(value("egressd_decisions_total", Map.of("server", "fetch", "protocol", "connect")))
                .isEqualTo(3);
        assertThat(value("egressd_decisions_total", Map.of("server", "slack", "reason", "host_not_allowed")))
                .isEqualTo(3);
        assertThat(value("egressd_decisions_total", Map.of("server", "slack", "reason", "port_not_allowed")))
                .isEqualTo(3);
        assertThat(value("egressd_decisions_total", Map.of("server", "unknown", "reason", "unknown_client")))
                .isEqualTo(3);
        assertThat(value("egressd_connections_active", Map.of("server", "slack", "protocol", "http")))
                .isEqualTo(3);
        assertThat(value("egressd_connections_active", Map.of("server", "slack", "protocol", "connect")))
                .isEqualTo(3);
    }

    @Test
    void reportModeWouldDenyIsItsOwnDecision() {
        metrics.decided(Protocol.CONNECT, client, Samples.wouldDeny("fetch", "tracker.example", 443));
        assertThat(value("egressd_decisions_total", Map.of("server", "fetch", "decision", "would_deny",
                "reason", "host_not_allowed"))).isEqualTo(1);
        assertThat(value("egressd_decisions_total", Map.of("decision", "allowed"))).isZero();
    }

    @Test
    void unidentifiedServersAreUnknownAndNoHostOrClientIsALabel() {
        metrics.decided(Protocol.HTTP, client, Samples.denied(null, "secret-host.example", 80, Reason.UNKNOWN_CLIENT));
        // A server name no policy vouched for (no mode): the client may have made it up.
        metrics.decided(Protocol.HTTP, client, new Decision(false, Reason.UNKNOWN_CLIENT, "made-up-by-client", null,
                false, "other-secret.example", 80, null, null, Samples.VERSION));
        metrics.queried(client, Samples.dnsDenied(null, "c2VjcmV0.attacker.example"), "c2VjcmV0.attacker.example.",
                "TXT", "NXDOMAIN");

        assertThat(value("egressd_decisions_total", Map.of("server", "unknown", "reason", "unknown_client")))
                .isEqualTo(2);
        String text = prometheus.scrape();
        assertThat(text).doesNotContain("secret", "made-up", "attacker", "c2VjcmV0", "127.0.0.7", "54321");
    }

    @Test
    void dnsQueriesAreCountedByServerDecisionAndBoundedQtype() {
        metrics.queried(client, Samples.dnsDenied("slack", "x.example"), "x.example.", "TXT", "NXDOMAIN");
        metrics.queried(client, Samples.dnsAllowed("slack", "slack.com"), "slack.com.", "aaaa", "NOERROR");
        metrics.queried(client, Samples.dnsDenied("slack", "y.example"), "y.example.", "TYPE65280", "NXDOMAIN");
        metrics.queried(client, Samples.dnsDenied("slack", "z.example"), "z.example.", "\"}\n", "NXDOMAIN");

        assertThat(value("egressd_dns_queries_total", Map.of("server", "slack", "decision", "denied", "qtype", "TXT")))
                .isEqualTo(1);
        assertThat(value("egressd_dns_queries_total", Map.of("server", "slack", "decision", "allowed", "qtype", "AAAA")))
                .isEqualTo(1);
        assertThat(value("egressd_dns_queries_total", Map.of("decision", "denied", "qtype", "other"))).isEqualTo(2);
        // The same queries in the decisions, under protocol dns, with their reasons.
        assertThat(value("egressd_decisions_total", Map.of("protocol", "dns", "decision", "denied",
                "reason", "host_not_allowed"))).isEqualTo(3);
        assertThat(Exposition.samples(prometheus.scrape(), "egressd_dns_queries_total"))
                .extracting(s -> s.labels().get("qtype")).containsOnly("TXT", "AAAA", "other");
    }

    @Test
    void activeConnectionsRiseOnOpenAndFallOnCloseAndBytesAddUp() {
        Decision d = Samples.allowed("slack", "slack.com", 443);
        metrics.decided(Protocol.CONNECT, client, d);
        metrics.decided(Protocol.CONNECT, client, d);
        assertThat(value("egressd_connections_active", Map.of("server", "slack", "protocol", "connect"))).isEqualTo(2);
        metrics.closed(Protocol.CONNECT, client, d, 100, 1000, 5);
        assertThat(value("egressd_connections_active", Map.of("server", "slack", "protocol", "connect"))).isEqualTo(1);
        metrics.closed(Protocol.CONNECT, client, d, 11, 22, 5);
        assertThat(value("egressd_connections_active", Map.of("server", "slack"))).isZero();
        assertThat(value("egressd_bytes_total", Map.of("server", "slack", "direction", "sent"))).isEqualTo(111);
        assertThat(value("egressd_bytes_total", Map.of("server", "slack", "direction", "received"))).isEqualTo(1022);
    }

    @Test
    void reloadsCountAfterStartupWithTimestamps() {
        assertThat(value("egressd_policy_reloads_total", Map.of("result", "success"))).isZero();
        assertThat(value("egressd_policy_reloads_total", Map.of("result", "failure"))).isZero();
        metrics.loaded(Policy.empty(), Trigger.STARTUP);
        assertThat(value("egressd_policy_reloads_total", Map.of())).isZero();
        assertThat(value("egressd_policy_last_success_timestamp_seconds", Map.of())).isEqualTo(1764234245.25);
        assertThat(value("egressd_policy_last_failure_timestamp_seconds", Map.of())).isZero();

        metrics.loaded(Policy.empty(), Trigger.FILE);
        metrics.rejected(Policy.empty(), List.of(new ValidationError("a.yaml", 1, 1, "x")), Trigger.SIGNAL);
        assertThat(value("egressd_policy_reloads_total", Map.of("result", "success"))).isEqualTo(1);
        assertThat(value("egressd_policy_reloads_total", Map.of("result", "failure"))).isEqualTo(1);
        assertThat(value("egressd_policy_last_failure_timestamp_seconds", Map.of())).isEqualTo(1764234245.25);
    }

    @Test
    void auditEventsAreCountedAsTheSinkAcceptsThem() {
        assertThat(Exposition.samples(prometheus.scrape(), "egressd_audit_events_total"))
                .extracting(s -> s.labels().get("event")).containsExactlyInAnyOrder("egress.allowed", "egress.denied",
                        "egress.closed", "dns.allowed", "dns.denied", "policy.loaded", "policy.rejected");
        RecordingSink recorded = new RecordingSink();
        CountingAuditSink sink = new CountingAuditSink(recorded, metrics);
        sink.write(AuditEvent.EGRESS_DENIED, "{}");
        sink.write(AuditEvent.EGRESS_DENIED, "{}");
        sink.write(AuditEvent.POLICY_LOADED, "{}");
        assertThat(recorded.lines).hasSize(3);
        assertThat(value("egressd_audit_events_total", Map.of("event", "egress.denied"))).isEqualTo(2);
        assertThat(value("egressd_audit_events_total", Map.of("event", "policy.loaded"))).isEqualTo(1);
        assertThat(value("egressd_audit_events_total", Map.of("event", "dns.denied"))).isZero();
    }

    @Test
    void upstreamConnectIsAHistogramInSeconds() {
        metrics.upstreamConnected(Duration.ofMillis(3));
        metrics.upstreamConnected(Duration.ofMillis(40));
        metrics.upstreamConnected(Duration.ofSeconds(3));
        String text = prometheus.scrape();
        assertThat(text).contains("# TYPE egressd_upstream_connect_seconds histogram");
        assertThat(Exposition.sum(text, "egressd_upstream_connect_seconds_count", Map.of())).isEqualTo(3);
        assertThat(Exposition.sum(text, "egressd_upstream_connect_seconds_bucket", Map.of("le", "0.005"))).isEqualTo(1);
        assertThat(Exposition.sum(text, "egressd_upstream_connect_seconds_bucket", Map.of("le", "0.05"))).isEqualTo(2);
        assertThat(Exposition.sum(text, "egressd_upstream_connect_seconds_bucket", Map.of("le", "+Inf"))).isEqualTo(3);
        assertThat(Exposition.sum(text, "egressd_upstream_connect_seconds_sum", Map.of())).isEqualTo(3.043);
    }

    @Test
    void readinessIsAGauge() {
        AtomicBoolean ready = new AtomicBoolean();
        metrics.bindReadiness(ready::get);
        assertThat(value("egressd_ready", Map.of())).isZero();
        ready.set(true);
        assertThat(value("egressd_ready", Map.of())).isEqualTo(1);
    }

    @Test
    void exposesJvmAndProcessMetrics() {
        String text = prometheus.scrape();
        assertThat(text).contains("jvm_memory_used_bytes", "jvm_threads_live_threads", "jvm_gc_", "process_cpu_usage",
                "process_uptime_seconds", "process_files_open_files", "process_cpu_seconds_total", "system_cpu_cores");
    }

    @Test
    void promtoolAcceptsTheExposition() throws Exception {
        metrics.decided(Protocol.CONNECT, client, Samples.denied("slack", "evil.example", 443, Reason.HOST_NOT_ALLOWED));
        metrics.decided(Protocol.CONNECT, client, Samples.wouldDeny("fetch", "tracker.example", 443));
        metrics.decided(Protocol.CONNECT, client, Samples.allowed("slack", "slack.com", 443));
        metrics.closed(Protocol.CONNECT, client, Samples.allowed("slack", "slack.com", 443), 1, 2, 3);
        metrics.queried(client, Samples.dnsDenied("slack", "x.example"), "x.example.", "A", "NXDOMAIN");
        metrics.loaded(Policy.empty(), Trigger.FILE);
        metrics.upstreamConnected(Duration.ofMillis(12));
        metrics.bindReadiness(() -> true);

        Promtool.Result result = Promtool.run(AuditSchema.ROOT, prometheus.scrape(), "check", "metrics");

        assertThat(result.output()).isEmpty();
        assertThat(result.exit()).isZero();
    }

    @Test
    void connectionsClosedBeforeADecisionAreCountedByListenerAndReasonFromZero() {
        assertThat(value("egressd_connections_rejected_total", Map.of("listener", "http",
                "reason", "header_timeout"))).isZero();
        assertThat(value("egressd_dns_queries_dropped_total", Map.of("reason", "rate_limited"))).isZero();
        metrics.rejected(Front.HTTP, Rejection.MAX_CONNECTIONS_PER_SOURCE);
        metrics.rejected(Front.HTTP, Rejection.MAX_CONNECTIONS_PER_SOURCE);
        metrics.rejected(Front.SOCKS5, Rejection.MAX_CONNECTIONS);
        metrics.rejected(Front.DNS_TCP, Rejection.FRAME_TIMEOUT);
        metrics.queryDropped(Rejection.RATE_LIMITED);

        assertThat(value("egressd_connections_rejected_total", Map.of("listener", "http",
                "reason", "max_connections_per_source"))).isEqualTo(2);
        assertThat(value("egressd_connections_rejected_total", Map.of("listener", "socks5",
                "reason", "max_connections"))).isEqualTo(1);
        assertThat(value("egressd_connections_rejected_total", Map.of("listener", "dns_tcp",
                "reason", "frame_timeout"))).isEqualTo(1);
        assertThat(value("egressd_connections_rejected_total", Map.of())).isEqualTo(4);
        assertThat(value("egressd_dns_queries_dropped_total", Map.of("reason", "rate_limited"))).isEqualTo(1);
        assertThat(Exposition.samples(prometheus.scrape(), "egressd_connections_rejected_total"))
                .allSatisfy(s -> assertThat(s.labels()).containsOnlyKeys("listener", "reason"));
    }

    @Test
    void everyEgressdMetricOfTheDesignIsExposed() {
        metrics.decided(Protocol.CONNECT, client, Samples.allowed("slack", "slack.com", 443));
        metrics.closed(Protocol.CONNECT, client, Samples.allowed("slack", "slack.com", 443), 1, 2, 3);
        metrics.queried(client, Samples.dnsDenied("slack", "x.example"), "x.example.", "A", "NXDOMAIN");
        String text = prometheus.scrape();
        for (String name : List.of("egressd_decisions_total", "egressd_dns_queries_total", "egressd_connections_active",
                "egressd_bytes_total", "egressd_upstream_connect_seconds_bucket", "egressd_policy_reloads_total",
                "egressd_policy_last_success_timestamp_seconds", "egressd_audit_events_total")) {
            assertThat(Exposition.samples(text, name)).as(name).isNotEmpty();
        }
        assertThat(Exposition.samples(text, "egressd_decisions_total").get(0).labels())
                .containsOnlyKeys("server", "protocol", "decision", "reason");
        assertThat(Exposition.samples(text, "egressd_dns_queries_total").get(0).labels())
                .containsOnlyKeys("server", "decision", "qtype");
        assertThat(Exposition.samples(text, "egressd_connections_active").get(0).labels())
                .containsOnlyKeys("server", "protocol");
        assertThat(Exposition.samples(text, "egressd_bytes_total").get(0).labels())
                .containsOnlyKeys("server", "direction");
        assertThat(Exposition.samples(text, "egressd_policy_reloads_total").get(0).labels())
                .containsOnlyKeys("result");
        assertThat(Exposition.samples(text, "egressd_audit_events_total").get(0).labels())
                .containsOnlyKeys("event");
        assertThat(Mode.values()).hasSize(2);
    }
}
