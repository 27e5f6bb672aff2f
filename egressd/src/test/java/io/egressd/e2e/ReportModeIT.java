package io.egressd.e2e;

import static io.egressd.e2e.AuditLines.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.metrics.Exposition;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
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
 * Issue 5, report mode end to end on the real daemon. Two servers with the same rules, told
 * apart by source address: {@code reporter} in report mode (127.0.0.2), {@code app} in enforce
 * mode (127.0.0.1). Each may reach 127.0.0.1 only on port 1 through a cidr rule, so loopback is
 * above the address floor for both (report mode never lifts the floor, docs/allowlists.md).
 * The reporter's HTTP request, CONNECT tunnel and DNS query to destinations its list does not
 * allow all flow, their audit lines carry {@code would_deny: true} with the reason enforce mode
 * would give, and egressd_decisions_total counts them under {@code decision="would_deny"};
 * the same request by the enforcing server is refused, and the floor and the global denies
 * still refuse the reporter.
 *
 * <p>With {@code audit.dns_allowed} at its default (off), an allowed DNS answer of the enforcing
 * server writes no line (it is only counted), while a denied query is audited.
 */
@ExtendWith(E2eExtension.class)
class ReportModeIT {

    @TempDir
    Path dir;
    HttpUpstream http;
    EchoUpstream echo;
    DnsUpstream dns;
    Egressd egressd;

    @BeforeEach
    void start() throws Exception {
        http = new HttpUpstream();
        echo = new EchoUpstream();
        dns = DnsUpstream.start().a("cdn.example.net", "93.184.216.34").a("docs.example.com", "93.184.216.35");
        Files.createDirectories(dir.resolve("allowlists"));
        String rules = """
                allow:
                  - host: docs.example.com
                  - cidr: 127.0.0.1/32
                    ports: [1]
                """;
        Files.writeString(dir.resolve("allowlists/reporter.yaml"), """
                server: reporter
                mode: report
                clients:
                  sources: [127.0.0.2/32]
                """ + rules);
        Files.writeString(dir.resolve("allowlists/app.yaml"), """
                server: app
                clients:
                  sources: [127.0.0.1/32]
                """ + rules);
        egressd = Egressd.start(dir, Fixture.config(dns.address(), """
                  timeout: 2s
                """));
    }

    @AfterEach
    void stop() throws Exception {
        Fixture.close(egressd, http, echo, dns);
    }

    @Test
    void reportModeTrafficFlowsIsAuditedAsWouldDenyAndCounted() throws Exception {
        String proxy = egressd.proxyUrl();
        String v = egressd.version;

        // Flows: plain HTTP (curl), a CONNECT tunnel, a DNS query, none of them on the reporter's list.
        Tools.Result curl = Tools.curl(proxy, "--interface", "127.0.0.2", http.url("/reported"));
        assertThat(curl.out()).startsWith("HTTP/1.1 200").endsWith(HttpUpstream.BODY);
        try (ProxyClient tunnel = ProxyClient.open("127.0.0.2", egressd.proxyPort)) {
            assertThat(tunnel.connect("127.0.0.1:" + echo.port()).status()).isEqualTo(200);
            assertThat(tunnel.echo(new byte[100])).hasSize(100);
        }
        Tools.Result dig = Tools.dig("127.0.0.2", egressd.dnsPort, "cdn.example.net", "A");
        assertThat(dig.out()).contains("status: NOERROR").containsPattern("cdn\\.example\\.net\\.\\s+\\d+\\s+IN\\s+A"
                + "\\s+93\\.184\\.216\\.34");
        assertThat(http.requests).hasValue(1);
        assertThat(echo.connections).hasValue(1);
        assertThat(dns.asked("cdn.example.net")).isEqualTo(1);

        // Still refused in report mode: loopback no cidr rule names, and the global denies.
        Tools.Result floor = Tools.curl(proxy, "--interface", "127.0.0.2", "http://127.0.0.3:" + http.port() + "/");
        assertThat(floor.out()).startsWith("HTTP/1.1 403").contains("X-Egressd-Denied: ip_literal_not_allowed");
        Tools.Result global = Tools.curl(proxy, "--interface", "127.0.0.2", "http://localhost:" + http.port() + "/");
        assertThat(global.out()).startsWith("HTTP/1.1 403").contains("X-Egressd-Denied: denied_by_global_rule");
        assertThat(Tools.dig("127.0.0.2", egressd.dnsPort, "metadata.google.internal", "A").out())
                .contains("status: NXDOMAIN");
        // The same request by the enforcing server is refused.
        Tools.Result enforced = Tools.curl(proxy, "--interface", "127.0.0.1", http.url("/enforced"));
        assertThat(enforced.out()).startsWith("HTTP/1.1 403").contains("X-Egressd-Denied: port_not_allowed");
        assertThat(http.requests).hasValue(1);

        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(() -> egressd.stdout().stream().filter(l -> l.contains("\"egress.closed\"")).count() == 2);
        List<JsonNode> events = AuditLines.validated(egressd.stdout());
        assertThat(AuditLines.countBy(events, e -> text(e, "event"))).isEqualTo(new TreeMap<>(Map.of(
                "policy.loaded", 1L, "egress.allowed", 2L, "egress.closed", 2L, "dns.allowed", 1L,
                "egress.denied", 3L, "dns.denied", 1L)));

        String client = "\"client\":\"127.0.0.2:*\"";
        String reporter = "\"server\":\"reporter\",\"mode\":\"report\",\"would_deny\":true";
        assertThat(events.stream().filter(e -> text(e, "server").equals("reporter") && !text(e, "event")
                .equals("egress.denied") && !text(e, "event").equals("dns.denied"))
                .map(AuditLines::withoutTimeAndClientPort).map(s -> s.replaceAll(
                        "\"bytes_sent\":\\d+,\"bytes_received\":\\d+,\"duration_ms\":\\d+", "BYTES")).toList())
                .containsExactlyInAnyOrder(
                        "{\"event\":\"egress.allowed\"," + reporter + ",\"protocol\":\"http\"," + client
                                + ",\"host\":\"127.0.0.1\",\"port\":" + http.port() + ",\"address\":\"127.0.0.1\","
                                + "\"reason\":\"port_not_allowed\",\"policy_version\":\"" + v + "\"}",
                        "{\"event\":\"egress.closed\"," + reporter + ",\"protocol\":\"http\"," + client
                                + ",\"host\":\"127.0.0.1\",\"port\":" + http.port() + ",\"address\":\"127.0.0.1\","
                                + "\"reason\":\"port_not_allowed\",BYTES,\"policy_version\":\"" + v + "\"}",
                        "{\"event\":\"egress.allowed\"," + reporter + ",\"protocol\":\"connect\"," + client
                                + ",\"host\":\"127.0.0.1\",\"port\":" + echo.port() + ",\"address\":\"127.0.0.1\","
                                + "\"reason\":\"port_not_allowed\",\"policy_version\":\"" + v + "\"}",
                        "{\"event\":\"egress.closed\"," + reporter + ",\"protocol\":\"connect\"," + client
                                + ",\"host\":\"127.0.0.1\",\"port\":" + echo.port() + ",\"address\":\"127.0.0.1\","
                                + "\"reason\":\"port_not_allowed\",BYTES,\"policy_version\":\"" + v + "\"}",
                        "{\"event\":\"dns.allowed\"," + reporter + ",\"protocol\":\"dns\"," + client
                                + ",\"reason\":\"host_not_allowed\",\"qname\":\"cdn.example.net\",\"qtype\":\"A\","
                                + "\"rcode\":\"NOERROR\",\"policy_version\":\"" + v + "\"}");
        assertThat(events.stream().filter(AuditLines.event("egress.closed"))
                .filter(e -> text(e, "protocol").equals("connect"))
                .map(e -> e.get("bytes_sent").asLong() + "/" + e.get("bytes_received").asLong()))
                .containsExactly("100/100");

        String metrics = egressd.scrape();
        Map<String, Long> counted = new TreeMap<>();
        for (Exposition.Sample s : Exposition.samples(metrics, "egressd_decisions_total")) {
            if (s.value() > 0) {
                counted.put(s.labels().get("server") + "/" + s.labels().get("protocol") + "/"
                        + s.labels().get("decision") + "/" + s.labels().get("reason"), (long) s.value());
            }
        }
        assertThat(counted).isEqualTo(new TreeMap<>(Map.of(
                "reporter/http/would_deny/port_not_allowed", 1L,
                "reporter/connect/would_deny/port_not_allowed", 1L,
                "reporter/dns/would_deny/host_not_allowed", 1L,
                "reporter/http/denied/ip_literal_not_allowed", 1L,
                "reporter/http/denied/denied_by_global_rule", 1L,
                "reporter/dns/denied/denied_by_global_rule", 1L,
                "app/http/denied/port_not_allowed", 1L)));
        assertThat(Exposition.sum(metrics, "egressd_dns_queries_total",
                Egressd.labels("server", "reporter", "decision", "would_deny", "qtype", "A"))).isEqualTo(1);
        assertThat(Exposition.sum(metrics, "egressd_audit_events_total", Egressd.labels("event", "egress.allowed")))
                .isEqualTo(2);
        assertThat(Exposition.sum(metrics, "egressd_audit_events_total", Egressd.labels("event", "dns.allowed")))
                .isEqualTo(1);
        assertThat(Exposition.sum(metrics, "egressd_bytes_total",
                Egressd.labels("server", "reporter", "direction", "sent")))
                .isEqualTo(events.stream().filter(AuditLines.event("egress.closed"))
                        .mapToLong(e -> e.get("bytes_sent").asLong()).sum());
        assertThat(Exposition.samples(metrics, "egressd_connections_active")).allSatisfy(s ->
                assertThat(s.value()).as("open connections " + s.labels()).isZero());
    }

    @Test
    void withDnsAllowedOffAnAllowedAnswerWritesNoLineWhileADenialDoes() throws Exception {
        // egressd.yaml leaves audit.dns_allowed at its default, off. app (enforce) may look up docs.example.com.
        assertThat(Tools.dig("127.0.0.1", egressd.dnsPort, "docs.example.com", "A").out()).contains("status: NOERROR")
                .containsPattern("docs\\.example\\.com\\.\\s+\\d+\\s+IN\\s+A\\s+93\\.184\\.216\\.35");
        assertThat(Tools.dig("127.0.0.1", egressd.dnsPort, "cdn.example.net", "A").out()).contains("status: NXDOMAIN");
        assertThat(dns.asked("docs.example.com")).as("the allowed query was answered from upstream").isEqualTo(1);

        String metrics = egressd.scrape();
        assertThat(Exposition.sum(metrics, "egressd_dns_queries_total",
                Egressd.labels("server", "app", "decision", "allowed", "qtype", "A"))).isEqualTo(1);
        assertThat(Exposition.sum(metrics, "egressd_dns_queries_total",
                Egressd.labels("server", "app", "decision", "denied", "qtype", "A"))).isEqualTo(1);
        assertThat(Exposition.sum(metrics, "egressd_audit_events_total", Egressd.labels("event", "dns.allowed")))
                .isZero();
        // Stopping drains the audit queue: whatever either query wrote is on standard output now.
        egressd.stop();
        assertThat(AuditLines.validated(egressd.stdout()).stream().map(AuditLines::withoutTimeAndClientPort))
                .containsExactly("{\"event\":\"policy.loaded\",\"policy_version\":\"" + egressd.version + "\"}",
                        "{\"event\":\"dns.denied\",\"server\":\"app\",\"mode\":\"enforce\",\"protocol\":\"dns\","
                                + "\"client\":\"127.0.0.1:*\",\"reason\":\"host_not_allowed\","
                                + "\"qname\":\"cdn.example.net\",\"qtype\":\"A\",\"rcode\":\"NXDOMAIN\","
                                + "\"policy_version\":\"" + egressd.version + "\"}");
    }
}
