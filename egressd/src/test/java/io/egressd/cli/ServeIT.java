package io.egressd.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `egressd serve` as a user starts it: config file, allowlists, real curl and dig, loopback only. */
class ServeIT {

    static final Pattern READY = Pattern.compile(
            "egressd: listening: proxy on 127\\.0\\.0\\.1:(\\d+), dns on 127\\.0\\.0\\.1:(\\d+) \\(udp\\+tcp\\),"
                    + " admin on 127\\.0\\.0\\.1:(\\d+);"
                    + " policy [0-9a-f]{12} with 1 server");

    @TempDir
    Path dir;
    HttpServer upstream;
    final AtomicInteger upstreamRequests = new AtomicInteger();
    Process serve;

    @BeforeEach
    void startUpstream() throws IOException {
        upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        upstream.createContext("/", exchange -> {
            upstreamRequests.incrementAndGet();
            byte[] body = "hello from upstream\n".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        upstream.start();
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (serve != null) {
            serve.destroy();
            serve.waitFor(10, TimeUnit.SECONDS);
            serve.destroyForcibly();
        }
        upstream.stop(0);
    }

    private Path writeConfig(String extra) throws IOException {
        Path allowlists = Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(allowlists.resolve("app.yaml"), """
                server: app
                allow:
                  - host: allowed.example.com
                  - cidr: 127.0.0.1/32
                    ports: [%d]
                """.formatted(upstream.getAddress().getPort()));
        Path config = dir.resolve("egressd.yaml");
        Files.writeString(config, """
                server: app
                listen:
                  http: 127.0.0.1:0
                  dns: 127.0.0.1:0
                  admin: 127.0.0.1:0
                dns:
                  upstreams: ["127.0.0.1:9"]
                  timeout: 1s
                """ + extra);
        return config;
    }

    private Process start(String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(CliIT.ROOT.resolve("bin/egressd").toString(), "serve"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).start();
        p.getOutputStream().close();
        return p;
    }

    private static String run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return out;
    }

    @Test
    void servesTheLoadedPolicyOnBothFrontsAndSaysWhereItListens() throws Exception {
        serve = start("--config", writeConfig("").toString());
        BufferedReader err = new BufferedReader(new InputStreamReader(serve.getErrorStream(), StandardCharsets.UTF_8));
        String line;
        Matcher ready = null;
        while ((line = err.readLine()) != null) {
            Matcher m = READY.matcher(line);
            if (m.matches()) {
                ready = m;
                break;
            }
        }
        assertThat(ready).as("ready line").isNotNull();
        String proxy = "http://127.0.0.1:" + ready.group(1);
        String dnsPort = ready.group(2);

        // The ready line comes after binding: the proxy accepts right away.
        try (Socket s = new Socket("127.0.0.1", Integer.parseInt(ready.group(1)))) {
            assertThat(s.isConnected()).isTrue();
        }
        String url = "http://127.0.0.1:" + upstream.getAddress().getPort() + "/";
        assertThat(run("curl", "-s", "-x", proxy, url)).isEqualTo("hello from upstream\n");
        assertThat(upstreamRequests).hasValue(1);

        String denied = run("curl", "-s", "-i", "-x", proxy,
                "http://localhost:" + upstream.getAddress().getPort() + "/");
        assertThat(denied).startsWith("HTTP/1.1 403").contains("X-Egressd-Denied: denied_by_global_rule");
        String deniedTunnel = run("curl", "-s", "-i", "-p", "-x", proxy, "https://metadata.google.internal/");
        assertThat(deniedTunnel).startsWith("HTTP/1.1 403").contains("X-Egressd-Denied: denied_by_global_rule");
        assertThat(upstreamRequests).hasValue(1);

        String health = run("curl", "-s", "http://127.0.0.1:" + ready.group(3) + "/readyz");
        assertThat(health).startsWith("ready");
        String metrics = run("curl", "-s", "http://127.0.0.1:" + ready.group(3) + "/metrics");
        assertThat(metrics).contains("egressd_decisions_total{decision=\"denied\",protocol=\"http\","
                + "reason=\"denied_by_global_rule\",server=\"app\"} 1.0");

        String nx = run("dig", "@127.0.0.1", "-p", dnsPort, "+time=2", "+tries=1", "secret.attacker.example", "A");
        assertThat(nx).contains("status: NXDOMAIN");
    }

    @Test
    void aBadConfigIsReportedWithItsPositionAndNothingListens() throws Exception {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            port = probe.getLocalPort();
        }
        Path config = writeConfig("limits:\n  idle_timeout: forever\n");
        Files.writeString(config, Files.readString(config).replace("http: 127.0.0.1:0", "http: 127.0.0.1:" + port));
        serve = start("--config", config.toString());
        assertThat(serve.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String err = new String(serve.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(serve.exitValue()).isEqualTo(2);
        assertThat(err).isEqualTo(config + ":10:17: limits.idle_timeout: expected a duration such as 500ms, 10s,"
                + " 5m or 1h\n");
        try (Socket s = new Socket()) {
            org.assertj.core.api.Assertions.assertThatThrownBy(
                    () -> s.connect(new InetSocketAddress("127.0.0.1", port), 1000)).isInstanceOf(IOException.class);
        }
    }

    @Test
    void aBrokenAllowlistStopsServeBeforeListening() throws Exception {
        Path config = writeConfig("");
        Files.writeString(dir.resolve("allowlists/app.yaml"), "server: app\nallow:\n  - host: \"*.com\"\n");
        serve = start("--config", config.toString());
        assertThat(serve.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String err = new String(serve.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(serve.exitValue()).isEqualTo(2);
        assertThat(err).startsWith(dir.resolve("allowlists/app.yaml") + ":3:11: allow[0].host: \"*.com\"");
        assertThat(err).doesNotContain("listening");
    }

    @Test
    void anAddressInUseIsAClearErrorAndExitsNonZero() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            Path config = writeConfig("");
            Files.writeString(config, Files.readString(config)
                    .replace("http: 127.0.0.1:0", "http: 127.0.0.1:" + taken.getLocalPort()));
            serve = start("--config", config.toString());
            assertThat(serve.waitFor(30, TimeUnit.SECONDS)).isTrue();
            String err = new String(serve.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(serve.exitValue()).isEqualTo(2);
            assertThat(err).contains("egressd: cannot listen on /127.0.0.1:" + taken.getLocalPort());
        }
    }
}
