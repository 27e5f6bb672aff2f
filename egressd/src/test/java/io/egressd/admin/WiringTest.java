package io.egressd.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.audit.AuditFormat;
import io.egressd.audit.AuditOutput;
import io.egressd.audit.AuditRotation;
import io.egressd.audit.AuditSchema;
import io.egressd.audit.Auditor;
import io.egressd.audit.LogbackAuditSink;
import io.egressd.audit.Samples;
import io.egressd.config.Config;
import io.egressd.metrics.CountingAuditSink;
import io.egressd.metrics.EgressMetrics;
import io.egressd.metrics.EgressObservers;
import io.egressd.metrics.Exposition;
import io.egressd.metrics.PrometheusMetrics;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.reload.PolicyReloader;
import io.egressd.reload.ReloadSettings;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The building blocks wired as the daemon wires them (the order is the one to copy), with a
 * stand-in for the fronts: reloads, decisions and readiness show up in the audit file and on
 * the admin listener, and closing in order loses no line.
 */
class WiringTest {

    @TempDir
    Path dir;

    final HttpClient http = HttpClient.newHttpClient();

    String get(InetSocketAddress admin, String path) throws Exception {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin.getPort() + path))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        return r.statusCode() + " " + r.body();
    }

    @Test
    void blocksWiredInOrderAuditAndCountEverythingAndCloseWithoutLoss() throws Exception {
        Path allowlists = Files.createDirectory(dir.resolve("allowlists"));
        Files.writeString(allowlists.resolve("slack.yaml"), "server: slack\nallow:\n  - host: slack.com\n");
        Path auditFile = dir.resolve("log/audit.log");
        Config d = Config.defaults();
        Config config = new Config(null, allowlists, null, d.listen(), d.dns(),
                new Config.Audit(auditFile.toString(), true, false), d.deny(), d.limits());

        // 1. Metrics, readiness and the admin listener first, so /healthz answers during startup.
        PrometheusMetrics prometheus = new PrometheusMetrics();
        EgressMetrics metrics = new EgressMetrics(prometheus.registry(), Clock.systemUTC());
        ReadinessFlags readiness = new ReadinessFlags("policy", "http", "dns");
        metrics.bindReadiness(readiness::ready);
        AdminServer admin = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), prometheus::scrape, readiness);
        // 2. The audit sink, then the one listener for audit and metrics.
        LogbackAuditSink sink = LogbackAuditSink.open(
                AuditOutput.of(config.audit().output(), AuditRotation.DEFAULT), LogbackAuditSink.DEFAULT_QUEUE_SIZE);
        EgressObservers observers = new EgressObservers(new Auditor(new CountingAuditSink(sink, metrics),
                new AuditFormat(Clock.systemUTC()), config.audit().allowed(), config.audit().dnsAllowed()), metrics);
        // 3. The policy (audited as policy.loaded), then watching (and SighupTrigger.install(reloader) in the daemon).
        PolicyReloader reloader = PolicyReloader.load(config.allowlists(), config.deny(), observers,
                ReloadSettings.DEFAULT);
        readiness.met("policy");
        reloader.start();
        assertThat(get(admin.address(), "/healthz")).isEqualTo("200 ok\n");
        assertThat(get(admin.address(), "/readyz")).isEqualTo("503 not ready: waiting for http, dns\n");
        // 4. The fronts get reloader (Supplier<Policy>) and observers (EgressListener); then they are bound.
        readiness.met("http");
        readiness.met("dns");
        assertThat(get(admin.address(), "/readyz")).isEqualTo("200 ready\n");

        Policy first = reloader.get();
        // What a front does for a refused CONNECT, with the live policy's own decision.
        observers.decided(Protocol.CONNECT, Samples.client(40000),
                reloader.get().evaluate("slack", "evil.example", 443).decision());
        Files.writeString(allowlists.resolve("slack.yaml"), "server: slack\nallow:\n  - host: [broken\n");
        await().atMost(Duration.ofSeconds(5)).until(() -> Exposition.sum(get(admin.address(), "/metrics").substring(4),
                "egressd_policy_reloads_total", Map.of("result", "failure")) == 1);
        assertThat(reloader.get()).isSameAs(first);

        String text = get(admin.address(), "/metrics").substring(4);
        assertThat(Exposition.sum(text, "egressd_decisions_total", Map.of("decision", "denied"))).isEqualTo(1);
        assertThat(Exposition.sum(text, "egressd_audit_events_total", Map.of())).isEqualTo(3);
        assertThat(Exposition.sum(text, "egressd_ready", Map.of())).isEqualTo(1);

        // Shutdown, in this order: fronts (not here), reloader, admin, audit sink (writes what is queued), metrics.
        reloader.close();
        admin.close();
        sink.close();
        prometheus.close();

        List<String> lines = Files.readAllLines(auditFile);
        assertThat(lines).extracting(l -> AuditSchema.parse(l).get("event").asString())
                .containsExactly("policy.loaded", "egress.denied", "policy.rejected");
        assertThat(lines).allSatisfy(l -> assertThat(AuditSchema.errors(l)).isEmpty());
        assertThat(lines).allSatisfy(l -> assertThat(AuditSchema.parse(l).get("policy_version").asString())
                .isEqualTo(first.version()));
    }
}
