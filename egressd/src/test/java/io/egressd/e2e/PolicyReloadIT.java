package io.egressd.e2e;

import static io.egressd.e2e.AuditLines.text;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

/**
 * Issue 5, live policy on the real daemon: an edited allowlist changes the proxy's decisions
 * within 2 s; a broken edit keeps the old decisions and reports every error (stderr
 * file:line:column, a policy.rejected audit line, the failure counter); a Kubernetes ConfigMap
 * {@code ..data} swap is picked up; SIGHUP sent to the process reloads; and an open CONNECT
 * tunnel, SOCKS5 stream or TCP forward connection keeps the decision it got while new
 * connections get the new policy.
 */
@ExtendWith(E2eExtension.class)
class PolicyReloadIT {

    static final long WITHIN_MILLIS = 2000;

    @TempDir
    Path dir;
    Path allowlists;
    HttpUpstream http;
    EchoUpstream echo;
    Egressd egressd;

    @BeforeEach
    void upstreams() throws Exception {
        http = new HttpUpstream();
        echo = new EchoUpstream();
        allowlists = Files.createDirectories(dir.resolve("allowlists"));
    }

    @AfterEach
    void stop() throws Exception {
        Fixture.close(egressd, http, echo);
    }

    /** app's allowlist: loopback on these ports only. */
    static String app(int... ports) {
        return """
                server: app
                clients:
                  sources: [127.0.0.1/32]
                allow:
                  - cidr: 127.0.0.1/32
                    ports: [%s]
                """.formatted(Arrays.stream(ports).mapToObj(Integer::toString).collect(Collectors.joining(", ")));
    }

    private void start() throws Exception {
        start("");
    }

    /** Starts egressd; {@code listen} adds listeners (indented under {@code listen:}). */
    private void start(String listen) throws Exception {
        egressd = Egressd.start(dir, """
                allowlists: allowlists
                listen:
                  http: 127.0.0.1:0
                  dns: 127.0.0.1:0
                  admin: 127.0.0.1:0
                %sdns:
                  upstreams: ["127.0.0.1:9"]
                """.formatted(listen));
    }

    /** Replaces a file as an editor that saves atomically does: a new file renamed over the old. */
    static void save(Path file, String content) throws IOException {
        Path temp = file.resolveSibling("." + file.getFileName() + ".swp");
        Files.writeString(temp, content);
        Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** What the proxy answers a new connection from app asking for {@code url}: "200", or "403 reason". */
    private String decision(String url) throws IOException {
        try (ProxyClient c = ProxyClient.open("127.0.0.1", egressd.proxyPort)) {
            ProxyClient.Response r = c.get(url);
            return r.status() == 200 ? "200" : r.status() + " " + r.header("X-Egressd-Denied");
        }
    }

    /** Polls new requests until the answer is {@code expected}; returns the milliseconds since {@code since}. */
    private long awaitDecision(String url, String expected, long since) throws Exception {
        long deadline = since + 10_000_000_000L;
        String last;
        do {
            last = decision(url);
            if (last.equals(expected)) {
                return (System.nanoTime() - since) / 1_000_000;
            }
            Thread.sleep(20);
        } while (System.nanoTime() < deadline);
        throw new AssertionError("still \"" + last + "\" 10 s after the change, expected \"" + expected + "\"");
    }

    private List<JsonNode> audit(String event) {
        return AuditLines.validated(egressd.stdout()).stream().filter(AuditLines.event(event)).toList();
    }

    private void awaitAudit(String event, int count) {
        await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20)).until(() ->
                egressd.stdout().stream().filter(l -> l.contains("\"event\":\"" + event + "\"")).count() >= count);
    }

    private double reloads(String result) throws Exception {
        return egressd.metric("egressd_policy_reloads_total", "result", result);
    }

    @Test
    void anEditedAllowlistChangesDecisionsWithinTwoSeconds() throws Exception {
        save(allowlists.resolve("app.yaml"), app(http.port()));
        start();
        String url = http.url("/edit");
        assertThat(decision(url)).isEqualTo("200");

        long saved = System.nanoTime();
        save(allowlists.resolve("app.yaml"), app(1));
        long denyAfter = awaitDecision(url, "403 port_not_allowed", saved);

        saved = System.nanoTime();
        save(allowlists.resolve("app.yaml"), app(1, http.port()));
        long allowAfter = awaitDecision(url, "200", saved);

        assertThat(denyAfter).as("ms until an edit that removes the port refuses").isLessThanOrEqualTo(WITHIN_MILLIS);
        assertThat(allowAfter).as("ms until an edit that adds the port allows").isLessThanOrEqualTo(WITHIN_MILLIS);
        System.out.printf("PolicyReloadIT: edits applied after %d ms and %d ms%n", denyAfter, allowAfter);

        awaitAudit("policy.loaded", 3);
        List<String> versions = audit("policy.loaded").stream().map(e -> text(e, "policy_version")).toList();
        assertThat(versions).hasSize(3).doesNotHaveDuplicates().startsWith(egressd.version);
        // The refusal in between was decided by the second policy.
        assertThat(audit("egress.denied")).isNotEmpty().allSatisfy(e ->
                assertThat(text(e, "policy_version")).isEqualTo(versions.get(1)));
        assertThat(reloads("success")).isEqualTo(2);
        assertThat(reloads("failure")).isZero();
        assertThat(egressd.stderr()).anyMatch(l -> l.contains("policy " + versions.get(2) + " loaded (file)"));
    }

    @Test
    void aBrokenEditKeepsTheOldDecisionsAndReportsEveryError() throws Exception {
        Path file = allowlists.resolve("app.yaml");
        save(file, app(http.port()));
        start();
        String url = http.url("/broken");
        assertThat(decision(url)).isEqualTo("200");

        // Would refuse the upstream's port if it loaded, but one rule is invalid: nothing of it applies.
        save(file, app(1) + "  - host: \"*.com\"\n");
        String error = egressd.awaitStderr(l -> l.contains(file + ":7:11: "), Duration.ofSeconds(10));
        assertThat(error).endsWith(" - " + file + ":7:11: allow[1].host: \"*.com\" is a wildcard over a whole"
                + " top-level domain; name a registered domain, e.g. \"*.example.com\"");
        awaitAudit("policy.rejected", 1);
        assertThat(audit("policy.rejected")).singleElement().satisfies(e -> assertThat(
                AuditLines.withoutTimeAndClientPort(e)).isEqualTo(
                "{\"event\":\"policy.rejected\",\"policy_version\":\"" + egressd.version + "\"}"));
        assertThat(reloads("failure")).isEqualTo(1);
        assertThat(reloads("success")).isZero();
        assertThat(egressd.metric("egressd_policy_last_failure_timestamp_seconds"))
                .isGreaterThan(egressd.metric("egressd_policy_last_success_timestamp_seconds"));
        for (int i = 0; i < 5; i++) {
            assertThat(decision(url)).as("the last good policy still decides").isEqualTo("200");
        }
        assertThat(audit("policy.loaded")).hasSize(1);

        // Fixed: the edit applies.
        long saved = System.nanoTime();
        save(file, app(1));
        long after = awaitDecision(url, "403 port_not_allowed", saved);
        assertThat(after).isLessThanOrEqualTo(WITHIN_MILLIS);
        awaitAudit("policy.loaded", 2);
        assertThat(reloads("success")).isEqualTo(1);
        assertThat(reloads("failure")).isEqualTo(1);
        assertThat(egressd.metric("egressd_policy_last_success_timestamp_seconds"))
                .isGreaterThan(egressd.metric("egressd_policy_last_failure_timestamp_seconds"));
    }

    @Test
    void aConfigMapDataSwapIsPickedUp() throws Exception {
        // The layout the kubelet writes: files are symlinks through ..data to a timestamped directory.
        Path first = Files.createDirectories(allowlists.resolve("..2026_11_27_09_00_00.000000001"));
        Files.writeString(first.resolve("app.yaml"), app(http.port()));
        Files.createSymbolicLink(allowlists.resolve("..data"), first.getFileName());
        Files.createSymbolicLink(allowlists.resolve("app.yaml"), Path.of("..data/app.yaml"));
        start();
        String url = http.url("/configmap");
        assertThat(decision(url)).isEqualTo("200");

        // The kubelet's update: a new directory, a new link renamed over ..data, the old directory removed.
        Path second = Files.createDirectories(allowlists.resolve("..2026_11_27_09_05_00.000000002"));
        Files.writeString(second.resolve("app.yaml"), app(1));
        Files.createSymbolicLink(allowlists.resolve("..data_tmp"), second.getFileName());
        long swapped = System.nanoTime();
        Files.move(allowlists.resolve("..data_tmp"), allowlists.resolve("..data"), StandardCopyOption.ATOMIC_MOVE);
        Files.delete(first.resolve("app.yaml"));
        Files.delete(first);
        long after = awaitDecision(url, "403 port_not_allowed", swapped);
        assertThat(after).isLessThanOrEqualTo(WITHIN_MILLIS);
        System.out.printf("PolicyReloadIT: ConfigMap swap applied after %d ms%n", after);
        awaitAudit("policy.loaded", 2);
        assertThat(reloads("success")).isEqualTo(1);
        assertThat(reloads("failure")).isZero();
    }

    @Test
    void sighupToTheProcessReloads() throws Exception {
        save(allowlists.resolve("app.yaml"), app(http.port()));
        start();
        assertThat(decision(http.url("/before"))).isEqualTo("200");

        // Nothing changed on disk, so no watch event reloads: the new policy.loaded is SIGHUP's alone.
        egressd.kill("HUP");
        awaitAudit("policy.loaded", 2);
        assertThat(audit("policy.loaded")).extracting(e -> text(e, "policy_version"))
                .containsExactly(egressd.version, egressd.version);
        egressd.awaitStderr(l -> l.contains("policy " + egressd.version + " loaded (signal)"), Duration.ofSeconds(5));
        assertThat(reloads("success")).isEqualTo(1);

        // SIGHUP re-reads the files: with a broken one on disk (already rejected once, by the watcher) it is
        // rejected again, reported as the signal's; the last good policy and the process carry on.
        save(allowlists.resolve("app.yaml"), "server: app\nallow: [\n");
        awaitAudit("policy.rejected", 1);
        egressd.kill("HUP");
        awaitAudit("policy.rejected", 2);
        egressd.awaitStderr(l -> l.contains("policy reload (signal) rejected, keeping policy " + egressd.version),
                Duration.ofSeconds(5));
        assertThat(reloads("failure")).isEqualTo(2);
        assertThat(egressd.alive()).as("SIGHUP does not stop the JVM").isTrue();
        assertThat(decision(http.url("/after"))).isEqualTo("200");
    }

    @Test
    void anOpenTunnelKeepsItsDecisionWhileNewConnectionsGetTheNewPolicy() throws Exception {
        save(allowlists.resolve("app.yaml"), app(http.port(), echo.port()));
        start();
        String authority = "127.0.0.1:" + echo.port();
        try (ProxyClient tunnel = ProxyClient.open("127.0.0.1", egressd.proxyPort)) {
            assertThat(tunnel.connect(authority).status()).isEqualTo(200);
            assertThat(new String(tunnel.echo("before".getBytes()))).isEqualTo("before");

            save(allowlists.resolve("app.yaml"), app(http.port()));
            awaitAudit("policy.loaded", 2);
            String newVersion = text(audit("policy.loaded").get(1), "policy_version");

            // A new tunnel to the same destination is refused by the new policy ...
            try (ProxyClient refused = ProxyClient.open("127.0.0.1", egressd.proxyPort)) {
                ProxyClient.Response r = refused.connect(authority);
                assertThat(r.status()).isEqualTo(403);
                assertThat(r.header("X-Egressd-Denied")).isEqualTo("port_not_allowed");
            }
            assertThat(audit("egress.denied")).singleElement().satisfies(e ->
                    assertThat(text(e, "policy_version")).isEqualTo(newVersion));
            // ... while the one opened before keeps flowing.
            assertThat(new String(tunnel.echo("after the reload".getBytes()))).isEqualTo("after the reload");
            assertThat(egressd.metric("egressd_connections_active", "server", "app", "protocol", "connect"))
                    .isEqualTo(1);
        }
        awaitAudit("egress.closed", 1);
        assertThat(audit("egress.closed")).singleElement().satisfies(e -> {
            assertThat(text(e, "policy_version")).as("closed under the policy that allowed it")
                    .isEqualTo(egressd.version);
            assertThat(e.get("bytes_sent").asLong()).isEqualTo("before".length() + "after the reload".length());
            assertThat(e.get("bytes_received").asLong()).isEqualTo(e.get("bytes_sent").asLong());
        });
        assertThat(echo.connections).hasValue(1);
    }

    @Test
    void openSocksStreamsAndForwardsKeepTheirDecisionWhileNewOnesAreRefused() throws Exception {
        int forwardPort;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            forwardPort = probe.getLocalPort();
        }
        save(allowlists.resolve("app.yaml"), app(http.port(), echo.port()) + """
                forwards:
                  - listen: 127.0.0.1:%d
                    to: 127.0.0.1:%d
                """.formatted(forwardPort, echo.port()));
        start("  socks: 127.0.0.1:0\n");
        InetSocketAddress forward = new InetSocketAddress("127.0.0.1", forwardPort);
        try (Socket socks = socks(); Socket tcp = new Socket()) {
            assertThat(socksConnect(socks, echo.port())).as("SOCKS5 reply").isZero();
            tcp.connect(forward, 5000);
            tcp.setSoTimeout(20_000);
            assertThat(echo(socks, "socks before")).isEqualTo("socks before");
            assertThat(echo(tcp, "tcp before")).isEqualTo("tcp before");

            // The new policy no longer lets app reach the echo port, so it drops the forward too.
            save(allowlists.resolve("app.yaml"), app(http.port()));
            awaitAudit("policy.loaded", 2);
            String newVersion = text(audit("policy.loaded").get(1), "policy_version");

            // A new SOCKS5 stream and a new forward connection to the same destination are refused ...
            try (Socket refused = socks()) {
                assertThat(socksConnect(refused, echo.port())).as("SOCKS5 reply: not allowed by ruleset").isEqualTo(2);
                assertThat(refused.getInputStream().read()).as("then closed").isEqualTo(-1);
            }
            try (Socket refused = new Socket()) {
                refused.connect(forward, 5000);
                refused.setSoTimeout(10_000);
                assertThat(resetOrClosed(refused)).as("a refused forward connection is reset").isTrue();
            }
            awaitAudit("egress.denied", 2);
            assertThat(audit("egress.denied")).extracting(e -> text(e, "protocol") + " " + text(e, "reason") + " "
                    + e.get("port").asInt() + " " + text(e, "policy_version")).containsExactlyInAnyOrder(
                    "socks5 port_not_allowed " + echo.port() + " " + newVersion,
                    "tcp host_not_allowed " + echo.port() + " " + newVersion);
            // ... while the two opened before keep carrying bytes both ways.
            assertThat(echo(socks, "socks after the reload")).isEqualTo("socks after the reload");
            assertThat(echo(tcp, "tcp after the reload")).isEqualTo("tcp after the reload");
            assertThat(egressd.metric("egressd_connections_active", "server", "app", "protocol", "socks5"))
                    .isEqualTo(1);
            assertThat(egressd.metric("egressd_connections_active", "server", "app", "protocol", "tcp"))
                    .isEqualTo(1);
        }
        awaitAudit("egress.closed", 2);
        assertThat(audit("egress.closed")).extracting(e -> text(e, "protocol") + " " + text(e, "policy_version") + " "
                + e.get("bytes_sent").asLong() + "/" + e.get("bytes_received").asLong())
                .as("closed under the policy that allowed them, every byte counted").containsExactlyInAnyOrder(
                        "socks5 " + egressd.version + " " + 34 + "/" + 34,
                        "tcp " + egressd.version + " " + 30 + "/" + 30);
        assertThat(echo.connections).as("the refused ones never reached the upstream").hasValue(2);
    }

    /** A SOCKS5 connection from 127.0.0.1 (app's source: no authentication) with the method negotiated. */
    private Socket socks() throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", egressd.socksPort), 5000);
        s.setSoTimeout(20_000);
        s.getOutputStream().write(new byte[] {5, 1, 0});
        byte[] method = s.getInputStream().readNBytes(2);
        assertThat(method).as("SOCKS5, no authentication").containsExactly(5, 0);
        return s;
    }

    /** CONNECT to 127.0.0.1:{@code port} (RFC 1928); the reply code. */
    private static int socksConnect(Socket s, int port) throws IOException {
        s.getOutputStream().write(new byte[] {5, 1, 0, 1, 127, 0, 0, 1, (byte) (port >> 8), (byte) port});
        byte[] reply = s.getInputStream().readNBytes(10); // IPv4 bound address
        assertThat(reply).hasSize(10);
        assertThat(reply[0]).isEqualTo((byte) 5);
        return reply[1];
    }

    /** Through a stream to the echo server: sends {@code text} and reads it back. */
    private static String echo(Socket s, String text) throws IOException {
        byte[] data = text.getBytes(StandardCharsets.US_ASCII);
        s.getOutputStream().write(data);
        return new String(s.getInputStream().readNBytes(data.length), StandardCharsets.US_ASCII);
    }

    /** Whether the peer ended the connection (end of stream or reset) with nothing echoed. */
    private static boolean resetOrClosed(Socket s) {
        try {
            return s.getInputStream().read() < 0;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset
        }
    }
}
