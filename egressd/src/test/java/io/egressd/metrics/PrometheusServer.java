package io.egressd.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.audit.AuditSchema;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import tools.jackson.databind.JsonNode;

/**
 * A real Prometheus (the Debian binary, as CI installs it) on loopback that scrapes one egressd
 * admin listener every second (job {@code egressd}) and evaluates
 * deploy/prometheus/egressd-alerts.yaml every second; read back through its HTTP API.
 */
public final class PrometheusServer implements AutoCloseable {

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    private final Process process;
    private final Path log;
    private final int port;

    private PrometheusServer(Process process, Path log, int port) {
        this.process = process;
        this.log = log;
        this.port = port;
    }

    /** Starts Prometheus with its config, data and log under {@code dir}, scraping 127.0.0.1:{@code targetPort}. */
    public static PrometheusServer start(Path dir, int targetPort) throws IOException {
        int port = freePort();
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
                "      - targets: ['127.0.0.1:" + targetPort + "']",
                ""));
        Path log = dir.resolve("prometheus.log");
        Process process = new ProcessBuilder("prometheus",
                "--config.file=" + config,
                "--storage.tsdb.path=" + dir.resolve("prometheus-data"),
                "--web.listen-address=127.0.0.1:" + port,
                "--log.level=warn")
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new PrometheusServer(process, log, port);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            return s.getLocalPort();
        }
    }

    public int port() {
        return port;
    }

    /** What Prometheus logged (warnings and errors), for a failure message. */
    public String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    public boolean ready() {
        try {
            return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/-/ready"))
                    .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding()).statusCode() == 200;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    public void awaitReady(Duration atMost) {
        await().atMost(atMost).pollInterval(Duration.ofMillis(200)).until(this::ready);
    }

    public JsonNode api(String pathAndQuery) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + pathAndQuery)).timeout(Duration.ofSeconds(5)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        return AuditSchema.JSON.readTree(r.body());
    }

    /** The value of an instant query's first series; NaN when the result is empty. */
    public double query(String promql) throws IOException, InterruptedException {
        JsonNode result = api("/api/v1/query?query=" + URLEncoder.encode(promql, StandardCharsets.UTF_8))
                .get("data").get("result");
        return result.isEmpty() ? Double.NaN : Double.parseDouble(result.get(0).get("value").get(1).asString());
    }

    /** The alerts in {@code state} (pending, firing). */
    public List<JsonNode> alerts(String state) throws IOException, InterruptedException {
        List<JsonNode> found = new ArrayList<>();
        for (JsonNode alert : api("/api/v1/alerts").get("data").get("alerts")) {
            if (alert.get("state").asString().equals(state)) {
                found.add(alert);
            }
        }
        return found;
    }

    /** "alertname/server" of each alert in {@code state}, "-" for an alert without a server label. */
    public List<String> alertNames(String state) throws IOException, InterruptedException {
        return alerts(state).stream().map(a -> a.get("labels").get("alertname").asString() + "/"
                + (a.get("labels").has("server") ? a.get("labels").get("server").asString() : "-")).toList();
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
