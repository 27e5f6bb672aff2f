package io.egressd.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.metrics.Exposition;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Collections;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9 item 4 for standard output: the real daemon writes its audit trail into a pipe whose
 * reader goes away (a log shipper that died). Writes then fail with EPIPE; with
 * {@code audit.on_failure: refuse} the proxy answers 403 {@code audit_unavailable} from then
 * on, with {@code continue} it keeps serving; both say so once on stderr and in /metrics, and
 * both still stop cleanly on SIGTERM with exit code 0. The pipe is a FIFO the test reads, so
 * that the test alone decides when its read end closes.
 */
class AuditStdoutFaultIT {

    @TempDir
    Path dir;
    HttpUpstream http;
    Process process;
    final List<String> err = Collections.synchronizedList(new ArrayList<>());

    @BeforeEach
    void upstream() throws IOException {
        http = new HttpUpstream();
    }

    @AfterEach
    void stop() throws Exception {
        try {
            if (process != null && process.isAlive()) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } finally {
            http.close();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"refuse", "continue"})
    void aClosedStdoutPipeIsReportedOnceAndRefusesOrKeepsServing(String onFailure) throws Exception {
        Path lists = Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(lists.resolve("app.yaml"), """
                server: app
                clients: {sources: [127.0.0.1/32]}
                allow:
                  - cidr: 127.0.0.1/32
                    ports: [%d]
                """.formatted(http.port()));
        int deadDns;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            deadDns = s.getLocalPort();
        }
        Path config = Files.writeString(dir.resolve("egressd.yaml"), """
                allowlists: allowlists
                listen: {http: 127.0.0.1:0, dns: 127.0.0.1:0, admin: 127.0.0.1:0}
                dns: {upstreams: ["127.0.0.1:%d"]}
                audit: {output: stdout, on_failure: %s}
                """.formatted(deadDns, onFailure));
        Path fifo = dir.resolve("stdout.fifo");
        assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();

        // The read end opens first (opening a FIFO blocks until both ends are there); it reads the
        // startup line, then closes: from then on every write to the daemon's stdout fails with EPIPE.
        CompletableFuture<String> firstLine = CompletableFuture.supplyAsync(() -> {
            try (BufferedReader r = Files.newBufferedReader(fifo)) {
                return r.readLine();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        process = new ProcessBuilder(Egressd.ROOT.resolve("bin/egressd").toString(), "serve", "--config",
                config.toString()).directory(dir.toFile()).redirectOutput(fifo.toFile()).start();
        process.getOutputStream().close();
        CompletableFuture<Matcher> ready = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getErrorStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    err.add(line);
                    Matcher m = Egressd.READY.matcher(line);
                    if (m.matches()) {
                        ready.complete(m);
                    }
                }
            } catch (IOException e) {
                // gone
            }
        });
        reader.setDaemon(true);
        reader.start();
        Matcher m = ready.get(60, TimeUnit.SECONDS);
        assertThat(firstLine.get(30, TimeUnit.SECONDS)).contains("\"event\":\"policy.loaded\"");
        InetSocketAddress proxy = new InetSocketAddress("127.0.0.1", Integer.parseInt(m.group("proxy")));
        int admin = Integer.parseInt(m.group("admin"));

        HttpClient client = HttpClient.newBuilder().proxy(ProxySelector.of(proxy)).build();
        HttpClient plain = HttpClient.newHttpClient();
        HttpRequest get = HttpRequest.newBuilder(URI.create(http.url("/"))).timeout(Duration.ofSeconds(10)).build();
        // The first request's egress.closed is the first line to meet the closed pipe.
        assertThat(client.send(get, HttpResponse.BodyHandlers.ofString()).statusCode()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(15)).until(() -> Exposition.sum(plain.send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body(), "egressd_audit_healthy", Map.of()) == 0);

        HttpResponse<String> after = client.send(get, HttpResponse.BodyHandlers.ofString());
        if (onFailure.equals("refuse")) {
            assertThat(after.statusCode()).isEqualTo(403);
            assertThat(after.headers().firstValue("X-Egressd-Denied")).contains("audit_unavailable");
        } else {
            assertThat(after.statusCode()).isEqualTo(200);
            assertThat(after.body()).isEqualTo(HttpUpstream.BODY);
        }
        String metrics = plain.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + admin + "/metrics"))
                .build(), HttpResponse.BodyHandlers.ofString()).body();
        assertThat(Exposition.sum(metrics, "egressd_audit_write_failures_total", Map.of())).isGreaterThanOrEqualTo(1);

        new ProcessBuilder("kill", "-TERM", Long.toString(process.pid())).start().waitFor();
        assertThat(process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        reader.join(10_000);
        assertThat(process.exitValue()).isZero();
        List<String> faults = err.stream().filter(l -> l.contains("audit output cannot be written")).toList();
        assertThat(faults).hasSize(1);
        assertThat(faults.get(0)).contains("standard output failed")
                .contains(onFailure.equals("refuse") ? "refusing new connections" : "still serving");
    }
}
