package io.egressd.e2e;

import static io.egressd.e2e.AuditLines.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Issue 5, second "must show": 20,000 denied requests from 50 concurrent clients against the
 * real daemon, with the audit trail in a file. 40 clients each send 400 plain-HTTP requests to
 * denied hosts on one kept-alive connection (a 403 does not close it); 10 clients each send 400
 * CONNECTs to denied hosts, each on a new connection (a refused CONNECT closes). Then the
 * counter says exactly 20,000 and the file holds exactly 20,000 denial lines, one per request.
 */
@ExtendWith(E2eExtension.class)
class DenialLoadIT {

    static final int HTTP_CLIENTS = 40;
    static final int CONNECT_CLIENTS = 10;
    static final int PER_CLIENT = 400;
    static final int TOTAL = (HTTP_CLIENTS + CONNECT_CLIENTS) * PER_CLIENT;

    @TempDir
    Path dir;
    Egressd egressd;

    @BeforeEach
    void start() throws Exception {
        Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(dir.resolve("allowlists/app.yaml"), """
                server: app
                clients:
                  sources: [127.0.0.1/32]
                allow:
                  - host: api.example.com
                """);
        egressd = Egressd.start(dir, Fixture.config("127.0.0.1:9", """
                audit:
                  output: audit.log
                """));
    }

    @AfterEach
    void stop() throws Exception {
        Fixture.close(egressd);
    }

    /** One kept-alive connection, 400 requests to denied hosts; returns the hosts asked. */
    private Callable<List<String>> httpClient(int client) {
        return () -> {
            List<String> hosts = new ArrayList<>(PER_CLIENT);
            try (ProxyClient c = ProxyClient.open("127.0.0.1", egressd.proxyPort)) {
                for (int i = 0; i < PER_CLIENT; i++) {
                    String host = "h" + client + "-" + i + ".denied.example";
                    ProxyClient.Response r = c.get("http://" + host + "/" + i);
                    assertThat(r.status()).isEqualTo(403);
                    assertThat(r.header("X-Egressd-Denied")).isEqualTo("host_not_allowed");
                    assertThat(r.closes()).as("a refused plain-HTTP request keeps the connection").isFalse();
                    hosts.add(host);
                }
                assertThat(c.closedByPeer(50)).isFalse();
            }
            return hosts;
        };
    }

    /** 400 CONNECTs to denied hosts, each refused and closed by the proxy. */
    private Callable<List<String>> connectClient(int client) {
        return () -> {
            List<String> hosts = new ArrayList<>(PER_CLIENT);
            for (int i = 0; i < PER_CLIENT; i++) {
                String host = "c" + client + "-" + i + ".denied.example";
                try (ProxyClient c = ProxyClient.open("127.0.0.1", egressd.proxyPort)) {
                    ProxyClient.Response r = c.connect(host + ":443");
                    assertThat(r.status()).isEqualTo(403);
                    assertThat(r.header("X-Egressd-Denied")).isEqualTo("host_not_allowed");
                    assertThat(r.closes()).isTrue();
                    assertThat(c.closedByPeer(5000)).as("a refused CONNECT closes").isTrue();
                }
                hosts.add(host);
            }
            return hosts;
        };
    }

    @Test
    void twentyThousandDenialsAreCountedAndAuditedExactlyOnceEach() throws Exception {
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(HTTP_CLIENTS + CONNECT_CLIENTS);
        List<Future<List<String>>> clients = new ArrayList<>();
        try {
            for (int c = 0; c < HTTP_CLIENTS; c++) {
                clients.add(pool.submit(httpClient(c)));
            }
            for (int c = 0; c < CONNECT_CLIENTS; c++) {
                clients.add(pool.submit(connectClient(c)));
            }
            Set<String> asked = new HashSet<>();
            for (Future<List<String>> client : clients) {
                asked.addAll(client.get(120, TimeUnit.SECONDS));
            }
            assertThat(asked).hasSize(TOTAL);
            long sentMillis = (System.nanoTime() - t0) / 1_000_000;

            // Counted before each 403 was written: exact as soon as the last answer is in.
            String metrics = egressd.scrape();
            assertThat(io.egressd.metrics.Exposition.sum(metrics, "egressd_decisions_total",
                    Egressd.labels("decision", "denied"))).isEqualTo(TOTAL);
            assertThat(io.egressd.metrics.Exposition.sum(metrics, "egressd_decisions_total", Egressd.labels(
                    "server", "app", "protocol", "http", "decision", "denied", "reason", "host_not_allowed")))
                    .isEqualTo(HTTP_CLIENTS * PER_CLIENT);
            assertThat(io.egressd.metrics.Exposition.sum(metrics, "egressd_decisions_total", Egressd.labels(
                    "server", "app", "protocol", "connect", "decision", "denied", "reason", "host_not_allowed")))
                    .isEqualTo(CONNECT_CLIENTS * PER_CLIENT);
            assertThat(io.egressd.metrics.Exposition.sum(metrics, "egressd_audit_events_total",
                    Egressd.labels("event", "egress.denied"))).isEqualTo(TOTAL);

            // The writer may still be behind the queue; the file catches up, then the daemon stops
            // (draining the queue), and the file is read whole.
            Path audit = dir.resolve("audit.log");
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(200))
                    .until(() -> lines(audit) >= TOTAL + 1);
            long auditedMillis = (System.nanoTime() - t0) / 1_000_000;
            egressd.stop();

            List<String> lines = Files.readAllLines(audit);
            List<JsonNode> events = AuditLines.validated(lines);
            assertThat(AuditLines.countBy(events, e -> text(e, "event")))
                    .containsExactlyInAnyOrderEntriesOf(java.util.Map.of("policy.loaded", 1L, "egress.denied",
                            (long) TOTAL));
            List<JsonNode> denials = events.stream().filter(AuditLines.event("egress.denied")).toList();
            Set<String> audited = new HashSet<>();
            for (JsonNode e : denials) {
                audited.add(text(e, "host"));
            }
            assertThat(audited).as("one line per request: every host once").hasSize(TOTAL).isEqualTo(asked);
            assertThat(AuditLines.countBy(denials, e -> text(e, "protocol") + "/" + text(e, "reason") + "/"
                    + text(e, "server") + "/" + text(e, "policy_version")))
                    .containsExactlyInAnyOrderEntriesOf(java.util.Map.of(
                            "http/host_not_allowed/app/" + egressd.version, (long) HTTP_CLIENTS * PER_CLIENT,
                            "connect/host_not_allowed/app/" + egressd.version, (long) CONNECT_CLIENTS * PER_CLIENT));
            System.out.printf("DenialLoadIT: %d denials from %d clients answered in %d ms (%.0f/s), all audited"
                    + " after %d ms%n", TOTAL, HTTP_CLIENTS + CONNECT_CLIENTS, sentMillis,
                    TOTAL * 1000.0 / sentMillis, auditedMillis);
        } finally {
            pool.shutdownNow();
        }
    }

    private static long lines(Path file) throws java.io.IOException {
        if (!Files.exists(file)) {
            return 0;
        }
        try (var stream = Files.lines(file)) {
            return stream.count();
        }
    }
}
