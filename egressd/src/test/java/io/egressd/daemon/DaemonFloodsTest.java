package io.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.config.ConfigLoader;
import io.egressd.metrics.Exposition;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Type;

/**
 * egressd.yaml's flood settings reach the fronts, and what they turn away reaches /metrics and
 * not the audit trail: UDP queries over {@code dns.udp_queries_per_second_per_source} are dropped
 * and counted, a connection that sends no request head is closed at {@code limits.header_timeout}
 * and counted.
 */
class DaemonFloodsTest {

    @TempDir
    Path dir;

    static String scrape(InetSocketAddress admin) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + admin.getPort() + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    @Test
    void floodSettingsAreWiredAndWhatTheyTurnAwayIsCountedNotAudited() throws Exception {
        Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(dir.resolve("allowlists/app.yaml"), """
                server: app
                clients:
                  sources: [127.0.0.1/32]
                allow:
                  - host: api.example.com
                """);
        Path config = dir.resolve("egressd.yaml");
        Files.writeString(config, """
                allowlists: allowlists
                listen: {http: "127.0.0.1:0", dns: "127.0.0.1:0", admin: "127.0.0.1:0"}
                dns:
                  upstreams: ["127.0.0.1:9"]
                  udp_queries_per_second_per_source: 1
                  udp_query_burst_per_source: 2
                audit: {output: audit.log}
                limits: {header_timeout: 1s}
                """);
        int answered = 0;
        try (Daemon daemon = Daemon.start(ConfigLoader.load(config))) {
            // Ten queries at once for a name no allowlist has (answered locally): the bucket of two passes.
            byte[] query = Message.newQuery(Record.newRecord(Name.fromString("denied.example."), Type.A, DClass.IN))
                    .toWire();
            try (DatagramSocket udp = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0))) {
                for (int i = 0; i < 10; i++) {
                    udp.send(new DatagramPacket(query, query.length, daemon.dnsAddress()));
                }
                udp.setSoTimeout(2000);
                try {
                    while (true) {
                        udp.receive(new DatagramPacket(new byte[512], 512));
                        answered++;
                    }
                } catch (SocketTimeoutException e) {
                    // all answers are in
                }
            }
            assertThat(answered).isBetween(2, 4); // the burst, plus what refilled at 1/s meanwhile
            try (Socket silent = new Socket()) {
                silent.connect(daemon.proxyAddress(), 5000);
                silent.setSoTimeout(10_000);
                assertThat(silent.getInputStream().read()).isEqualTo(-1);
            }
            String metrics = await().atMost(Duration.ofSeconds(5)).until(() -> scrape(daemon.adminAddress()),
                    text -> Exposition.sum(text, "egressd_connections_rejected_total",
                            Map.of("listener", "http", "reason", "header_timeout")) == 1);
            assertThat(Exposition.sum(metrics, "egressd_dns_queries_dropped_total", Map.of("reason", "rate_limited")))
                    .isEqualTo(10 - answered);
            assertThat(Exposition.sum(metrics, "egressd_dns_queries_total", Map.of())).isEqualTo(answered);
        }
        // The refusals are audited (dns.denied), the dropped queries and the timed-out connection are not.
        String audit = Files.readString(dir.resolve("audit.log"));
        assertThat(audit.lines().filter(l -> l.contains("\"event\":\"dns.denied\""))).hasSize(answered);
        assertThat(audit).doesNotContain("egress.denied");
    }
}
