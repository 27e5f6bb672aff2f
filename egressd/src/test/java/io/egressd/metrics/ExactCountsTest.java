package io.egressd.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.audit.AuditFormat;
import io.egressd.audit.AuditOutput;
import io.egressd.audit.AuditRotation;
import io.egressd.audit.AuditSchema;
import io.egressd.audit.Auditor;
import io.egressd.audit.LogbackAuditSink;
import io.egressd.audit.Samples;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every denial appears exactly once in the audit file and exactly once in the counters, under load. */
class ExactCountsTest {

    @TempDir
    Path dir;

    final PrometheusMetrics prometheus = new PrometheusMetrics();
    final EgressMetrics metrics = new EgressMetrics(prometheus.registry(), Clock.systemUTC());

    @AfterEach
    void close() {
        prometheus.close();
    }

    EgressObservers observers(LogbackAuditSink sink, boolean dnsAllowed) {
        Auditor auditor = new Auditor(new CountingAuditSink(sink, metrics), new AuditFormat(Clock.systemUTC()), true,
                dnsAllowed);
        return new EgressObservers(auditor, metrics);
    }

    @Test
    void twentyThousandDenialsFromFiftyThreadsAreTwentyThousandLinesAndACountOfTwentyThousand() throws Exception {
        Path file = dir.resolve("audit.log");
        // A small queue, so the writers really do block on it.
        LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.RollingFile(file, AuditRotation.DEFAULT), 256);
        EgressObservers listener = observers(sink, false);
        int threads = 50;
        int each = 400;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                done.add(pool.submit(() -> {
                    start.await();
                    for (int i = 0; i < each; i++) {
                        listener.decided(Protocol.CONNECT, Samples.client(10_000 + thread),
                                Samples.denied("slack", "h" + thread + "-" + i + ".evil.example", 443,
                                        Reason.HOST_NOT_ALLOWED));
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> f : done) {
                f.get(120, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        sink.close();

        List<String> lines = Files.readAllLines(file);
        assertThat(lines).hasSize(20_000);
        Set<String> hosts = new HashSet<>();
        for (String line : lines) {
            assertThat(AuditSchema.errors(line)).as(line).isEmpty();
            hosts.add(AuditSchema.parse(line).get("host").asString());
        }
        assertThat(hosts).hasSize(20_000);
        String text = prometheus.scrape();
        assertThat(Exposition.sum(text, "egressd_decisions_total", Map.of("decision", "denied"))).isEqualTo(20_000);
        assertThat(Exposition.sum(text, "egressd_decisions_total", Map.of("server", "slack", "protocol", "connect",
                "decision", "denied", "reason", "host_not_allowed"))).isEqualTo(20_000);
        assertThat(Exposition.sum(text, "egressd_audit_events_total", Map.of("event", "egress.denied")))
                .isEqualTo(20_000);
    }

    @Test
    void auditLinesAndCountersAgreeEventByEvent() throws Exception {
        Path file = dir.resolve("mixed.log");
        LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.RollingFile(file, AuditRotation.DEFAULT), 64);
        EgressObservers listener = observers(sink, true);
        for (int i = 0; i < 30; i++) {
            listener.decided(Protocol.HTTP, Samples.client(1000 + i), Samples.denied("slack", "x" + i + ".example", 80,
                    Reason.HOST_NOT_ALLOWED));
        }
        for (int i = 0; i < 20; i++) {
            listener.decided(Protocol.CONNECT, Samples.client(2000 + i), Samples.allowed("slack", "slack.com", 443));
            listener.closed(Protocol.CONNECT, Samples.client(2000 + i), Samples.allowed("slack", "slack.com", 443),
                    10, 100, 7);
        }
        for (int i = 0; i < 7; i++) {
            listener.decided(Protocol.CONNECT, Samples.client(3000 + i), Samples.wouldDeny("fetch", "t.example", 443));
        }
        for (int i = 0; i < 12; i++) {
            listener.queried(Samples.client(4000 + i), Samples.dnsDenied("slack", "q" + i + ".example"),
                    "q" + i + ".example.", "TXT", "NXDOMAIN");
        }
        for (int i = 0; i < 5; i++) {
            listener.queried(Samples.client(5000 + i), Samples.dnsAllowed("slack", "slack.com"), "slack.com.", "A",
                    "NOERROR");
        }
        sink.close();

        Map<String, Long> byEvent = Files.readAllLines(file).stream()
                .peek(l -> assertThat(AuditSchema.errors(l)).as(l).isEmpty())
                .collect(Collectors.groupingBy(l -> AuditSchema.parse(l).get("event").asString(), Collectors.counting()));
        assertThat(byEvent).containsExactlyInAnyOrderEntriesOf(Map.of("egress.denied", 30L, "egress.closed", 20L,
                "egress.allowed", 7L, "dns.denied", 12L, "dns.allowed", 5L));
        String text = prometheus.scrape();
        for (Map.Entry<String, Long> e : byEvent.entrySet()) {
            assertThat(Exposition.sum(text, "egressd_audit_events_total", Map.of("event", e.getKey())))
                    .as(e.getKey()).isEqualTo(e.getValue().doubleValue());
        }
        assertThat(Exposition.sum(text, "egressd_decisions_total", Map.of("decision", "denied", "protocol", "http")))
                .isEqualTo(30);
        assertThat(Exposition.sum(text, "egressd_decisions_total", Map.of("decision", "would_deny"))).isEqualTo(7);
        assertThat(Exposition.sum(text, "egressd_dns_queries_total", Map.of("decision", "denied"))).isEqualTo(12);
        assertThat(Exposition.sum(text, "egressd_dns_queries_total", Map.of("decision", "allowed"))).isEqualTo(5);
        assertThat(Exposition.sum(text, "egressd_connections_active", Map.of("server", "slack"))).isZero();
        assertThat(Exposition.sum(text, "egressd_connections_active", Map.of("server", "fetch"))).isEqualTo(7);
    }

    @Test
    void aFailingAuditDoesNotStopTheCount() {
        LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.Stream(new java.io.ByteArrayOutputStream()), 16);
        EgressObservers listener = observers(sink, false);
        sink.close();
        listener.decided(Protocol.HTTP, Samples.client(1), Samples.denied("slack", "x.example", 80,
                Reason.HOST_NOT_ALLOWED));
        String text = prometheus.scrape();
        assertThat(Exposition.sum(text, "egressd_decisions_total", Map.of("decision", "denied"))).isEqualTo(1);
        assertThat(Exposition.sum(text, "egressd_audit_events_total", Map.of("event", "egress.denied"))).isZero();
    }
}
