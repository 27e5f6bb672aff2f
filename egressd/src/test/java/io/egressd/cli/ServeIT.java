package io.egressd.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import io.egressd.sandbox.CiGuard;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** `egressd serve` as a user starts it: config file, allowlists, real curl and dig, loopback only. */
// A process that never prints its ready line would otherwise hang the suite in awaitReady.
@Timeout(120)
class ServeIT {

    static final Pattern READY = Pattern.compile(
            "egressd: listening: proxy on 127\\.0\\.0\\.1:(\\d+), dns on 127\\.0\\.0\\.1:(\\d+) \\(udp\\+tcp\\),"
                    + " admin on 127\\.0\\.0\\.1:(\\d+);"
                    + " policy [0-9a-f]{12} with (\\d+) servers?");

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
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        // curl honours NO_PROXY even with -x: the caller's proxy variables must not steer the test.
        builder.environment().keySet().removeIf(k -> k.toLowerCase(Locale.ROOT).endsWith("_proxy"));
        Process p = builder.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        return out;
    }

    /** Reads stderr up to the ready line; fails if the process ends without one. */
    private static Matcher awaitReady(Process p) throws IOException {
        BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8));
        String line;
        List<String> seen = new ArrayList<>();
        while ((line = err.readLine()) != null) {
            Matcher m = READY.matcher(line);
            if (m.matches()) {
                return m;
            }
            seen.add(line);
        }
        throw new AssertionError("no ready line; stderr: " + seen);
    }

    /** An allowlist directory {@code name} under the test directory with {@code files} (server name to YAML). */
    private Path allowlists(String name, String... serverAndYaml) throws IOException {
        Path lists = Files.createDirectories(dir.resolve(name));
        for (int i = 0; i < serverAndYaml.length; i += 2) {
            Files.writeString(lists.resolve(serverAndYaml[i] + ".yaml"), serverAndYaml[i + 1]);
        }
        return lists;
    }

    private String allowsTheUpstream(String server) {
        return "server: " + server + "\nallow:\n  - cidr: 127.0.0.1/32\n    ports: [" + upstream.getAddress().getPort()
                + "]\n";
    }

    /**
     * Listeners the test holds on every port the config names, so that a serve that binds anything
     * before it reports its config error would report "cannot listen" instead (the probe runs while
     * the process runs, not after it exited).
     */
    private List<ServerSocket> takenPorts(Path config) throws IOException {
        List<ServerSocket> taken = new ArrayList<>();
        String text = Files.readString(config);
        for (String key : new String[] {"http", "admin"}) {
            ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"));
            taken.add(s);
            text = text.replaceAll(key + ": 127\\.0\\.0\\.1:[0-9]+", key + ": 127.0.0.1:" + s.getLocalPort());
        }
        Files.writeString(config, text);
        return taken;
    }

    private String failedRun(Path config, String... args) throws Exception {
        List<ServerSocket> taken = takenPorts(config);
        try {
            List<String> all = new ArrayList<>(List.of("--config", config.toString()));
            all.addAll(List.of(args));
            serve = start(all.toArray(String[]::new));
            assertThat(serve.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(serve.exitValue()).isEqualTo(2);
            return new String(serve.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        } finally {
            for (ServerSocket s : taken) {
                s.close();
            }
        }
    }

    @Test
    void allowlistsFlagReplacesTheConfigsDirectory() throws Exception {
        Path config = writeConfig(""); // its allowlists/app.yaml allows 127.0.0.1 on the upstream's port
        Files.writeString(dir.resolve("allowlists/app.yaml"), "server: app\nallow:\n  - host: allowed.example.com\n");
        Path flagged = allowlists("flagged", "app", allowsTheUpstream("app"));

        serve = start("--config", config.toString(), "--allowlists", flagged.toString());
        Matcher ready = awaitReady(serve);
        String proxy = "http://127.0.0.1:" + ready.group(1);
        String url = "http://127.0.0.1:" + upstream.getAddress().getPort() + "/";

        // Only the flagged directory's app.yaml allows this: the config's would answer ip_literal_not_allowed.
        assertThat(run("curl", "-s", "-x", proxy, url)).isEqualTo("hello from upstream\n");
        assertThat(upstreamRequests).hasValue(1);
    }

    @Test
    void serverFlagMakesEveryClientThatServer() throws Exception {
        Path config = writeConfig("");
        Files.writeString(config, Files.readString(config).replace("server: app\n", ""));
        // Neither server takes credentials or claims a source: only --server can identify a client.
        Path lists = allowlists("two", "app", allowsTheUpstream("app"),
                "other", "server: other\nallow:\n  - host: other.example.com\n");

        serve = start("--config", config.toString(), "--allowlists", lists.toString(), "--server", "app");
        Matcher ready = awaitReady(serve);
        assertThat(ready.group(4)).isEqualTo("2");
        String proxy = "http://127.0.0.1:" + ready.group(1);

        String answer = run("curl", "-s", "-i", "-x", proxy, "http://127.0.0.1:" + upstream.getAddress().getPort()
                + "/");
        assertThat(answer).startsWith("HTTP/1.1 200").endsWith("hello from upstream\n");
        String denied = run("curl", "-s", "-i", "-x", proxy, "http://other.example.com/");
        assertThat(denied).startsWith("HTTP/1.1 403").contains("server: app").contains("host_not_allowed");
        assertThat(upstreamRequests).hasValue(1);
    }

    @Test
    void withoutAConfigItServesTheDefaultsInItsOwnNetworkNamespace() throws Exception {
        // The defaults bind fixed ports (3128, 5053, 9464): in a network namespace of its own (root
        // only; this test's, with nothing but loopback) they cannot clash with anything on this host.
        CiGuard.requireRoot("serving the defaults binds their fixed ports in a network namespace of the"
                + " test's own, which needs root: run `sudo mvn -B verify` (CI runs it as root with CI=true)");
        allowlists("allowlists", "app", "server: app\nclients:\n  sources: [127.0.0.1/32]\nallow:\n"
                + "  - host: allowed.example.com\n");
        ProcessBuilder pb = new ProcessBuilder("unshare", "--net", "sh", "-c", "ip link set lo up && exec \"$0\" serve",
                CliIT.ROOT.resolve("bin/egressd").toString()).directory(dir.toFile())
                .redirectOutput(dir.resolve("audit.out").toFile());
        serve = pb.start();
        serve.getOutputStream().close();

        Matcher ready = awaitReady(serve);
        assertThat(ready.group(1)).isEqualTo("3128");
        assertThat(ready.group(2)).isEqualTo("5053");
        assertThat(ready.group(3)).isEqualTo("9464");
        assertThat(ready.group(4)).isEqualTo("1");
        String inside = String.valueOf(serve.pid());

        // ./allowlists decides: the client is app by its source address, localhost is denied for everyone.
        String denied = run("nsenter", "-t", inside, "-n", "curl", "-s", "-i", "-x", "http://127.0.0.1:3128",
                "http://localhost:8080/");
        assertThat(denied).startsWith("HTTP/1.1 403").contains("X-Egressd-Denied: denied_by_global_rule")
                .contains("server: app");
        assertThat(run("nsenter", "-t", inside, "-n", "curl", "-s", "http://127.0.0.1:9464/readyz"))
                .startsWith("ready");
        String nx = run("nsenter", "-t", inside, "-n", "dig", "@127.0.0.1", "-p", "5053", "+time=5", "+tries=3",
                "secret.attacker.example", "A");
        assertThat(nx).contains("status: NXDOMAIN");
        // The audit trail goes to standard output by default.
        await().atMost(Duration.ofSeconds(5)).until(() -> Files.readString(dir.resolve("audit.out"))
                .contains("\"reason\":\"denied_by_global_rule\""));
    }

    @Test
    void anUnknownServerIsReportedBeforeAnythingListens() throws Exception {
        Path config = writeConfig("");
        Files.writeString(config, Files.readString(config).replace("server: app\n", ""));

        String flag = failedRun(config, "--server", "nosuch");
        assertThat(flag).isEqualTo("egressd: server nosuch: no allowlist " + dir.resolve("allowlists/nosuch.yaml")
                + "; servers: app\n");

        String invalid = failedRun(config, "--server", "../app");
        assertThat(invalid).isEqualTo("egressd: server ../app: not a server name (an allowlist file name without"
                + " .yaml: lower-case letters, digits, - and _)\n");

        Files.writeString(config, "server: nosuch\n" + Files.readString(config));
        String inFile = failedRun(config);
        assertThat(inFile).isEqualTo("egressd: server nosuch: no allowlist " + dir.resolve("allowlists/nosuch.yaml")
                + "; servers: app\n");
    }

    @Test
    void anIdleTimeoutBelowOneSecondIsAConfigErrorBeforeAnythingListens() throws Exception {
        Path config = writeConfig("limits:\n  idle_timeout: 500ms\n");

        String err = failedRun(config);

        assertThat(err).isEqualTo(config + ":10:17: limits.idle_timeout: 500ms is out of range; write a duration"
                + " from 1s to 24h, such as 300s\n");
    }

    @Test
    void servesTheLoadedPolicyOnBothFrontsAndSaysWhereItListens() throws Exception {
        serve = start("--config", writeConfig("").toString());
        Matcher ready = awaitReady(serve);
        assertThat(ready.group(4)).isEqualTo("1");
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

        String nx = run("dig", "@127.0.0.1", "-p", dnsPort, "+time=5", "+tries=3", "secret.attacker.example", "A");
        assertThat(nx).contains("status: NXDOMAIN");
    }

    @Test
    void aBadConfigIsReportedWithItsPositionAndNothingListens() throws Exception {
        Path config = writeConfig("limits:\n  idle_timeout: forever\n");

        // The ports it names are held by the test: a bind before the check would say "cannot listen".
        String err = failedRun(config);

        assertThat(err).isEqualTo(config + ":10:17: limits.idle_timeout: expected a duration such as 500ms, 10s,"
                + " 5m or 1h\n");
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
