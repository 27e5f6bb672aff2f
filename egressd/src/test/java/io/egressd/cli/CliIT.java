package io.egressd.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a user runs it: bin/egressd starting the shaded jar. */
class CliIT {

    static final Path ROOT = Path.of(System.getProperty("egressd.repo.root", ".")).toAbsolutePath();

    record Result(int exit, String out, String err) { }

    static Result egressd(String... args) throws IOException, InterruptedException {
        return egressd(Map.of(), args);
    }

    static Result egressd(Map<String, String> env, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(ROOT.resolve("bin/egressd").toString());
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).directory(ROOT.toFile());
        builder.environment().putAll(env);
        Process p = builder.start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        byte[] err = p.getErrorStream().readAllBytes();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
    }

    @Test
    void checkPassesOnTheShippedAllowlists() throws Exception {
        Result r = egressd("check", "allowlists/");
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("ok allowlists/slack.yaml: server slack", "ok allowlists/filesystem.yaml");
    }

    @Test
    void checkReportsEveryErrorWithFileLineColumnAndExitsOne(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("slack.yaml");
        Files.writeString(file, """
                server: slack
                allow:
                  - host: "*.com"
                  - host: slack.com
                    ports: [443, 0]
                """);
        Result r = egressd("check", file.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out().lines().toList()).containsExactly(
                file + ":3:11: allow[0].host: \"*.com\" is a wildcard over a whole top-level domain;"
                        + " name a registered domain, e.g. \"*.example.com\"",
                file + ":5:18: allow[1].ports[1]: port 0 is not a port number; write a decimal number from 1 to"
                        + " 65535 without leading zeros");
    }

    @Test
    void checkRejectsAForwardWhoseTargetIsNotInAllow(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("postgres.yaml");
        Files.writeString(file, """
                server: postgres
                allow:
                  - host: db.internal.example.com
                    ports: [5432]
                forwards:
                  - listen: 127.0.0.1:15432
                    to: db.other.example.com:5432
                """);
        Result r = egressd("check", file.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out().lines().toList()).containsExactly(file + ":7:9: forwards[0].to: db.other.example.com:5432"
                + " is not allowed by this server's allow rules; add a host rule for db.other.example.com with"
                + " ports: [5432]");
    }

    @Test
    void checkOfAMissingDirectorySaysSo() throws Exception {
        Result r = egressd("check", "no-such-dir");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.out()).startsWith("no-such-dir:1:1: no such file or directory");
    }

    @Test
    void explainPrintsDecisionReasonAndRule() throws Exception {
        Result allowed = egressd("explain", "--server", "slack", "slack.com:443");
        assertThat(allowed.exit()).as(allowed.err()).isZero();
        assertThat(allowed.out()).startsWith("allowed\n").contains("rule: allowlists/slack.yaml#allow[");

        Result denied = egressd("explain", "--server", "slack", "evilslack.com");
        assertThat(denied.exit()).isEqualTo(1);
        assertThat(denied.out()).startsWith("denied\n").contains("reason: host_not_allowed", "rule: -");

        Result literal = egressd("explain", "--server", "slack", "2130706433:443");
        assertThat(literal.out()).contains("reason: invalid_host");

        Result unknown = egressd("explain", "--server", "nobody", "slack.com");
        assertThat(unknown.exit()).isEqualTo(2);
        assertThat(unknown.err()).contains("no allowlist for server \"nobody\"");
    }

    @Test
    void explainTakesTheConfigsGlobalDeny(@TempDir Path dir) throws Exception {
        Path config = dir.resolve("egressd.yaml");
        Files.writeString(config, "allowlists: " + ROOT.resolve("allowlists") + "\ndeny:\n  hosts: [\"slack.com\"]\n");
        Result r = egressd("explain", "--config", config.toString(), "--server", "slack", "slack.com");
        assertThat(r.exit()).as(r.err()).isEqualTo(1);
        assertThat(r.out()).contains("reason: denied_by_global_rule", "rule: egressd.yaml#deny.hosts[0]");
    }

    /**
     * bin/egressd with the JVM resolving names from {@code hosts} alone (jdk.net.hosts.file):
     * --resolve goes through InetAddress, as it does in production, but no lookup can reach
     * a DNS server; a name missing from the file does not resolve at all.
     */
    static Map<String, String> hostsFile(Path hosts) {
        return Map.of("EGRESSD_JAVA_OPTS", "-XX:TieredStopAtLevel=1 -Djdk.net.hosts.file=" + hosts);
    }

    @Test
    void explainResolvesANameAndVetsItsAddresses(@TempDir Path tmp) throws Exception {
        Path hosts = Files.writeString(tmp.resolve("hosts"), "127.0.0.1 svc.test\n::1 svc6.test\n");
        Path dir = Files.createDirectories(tmp.resolve("policy"));
        Path file = Files.writeString(dir.resolve("app.yaml"), """
                server: app
                allow:
                  - host: svc.test
                    ports: [8080]
                  - host: svc6.test
                    ports: [8080]
                """);
        String rule = "policy/app.yaml#allow[";
        Map<String, String> env = hostsFile(hosts);

        // A name its host rule allows, resolving to loopback only: denied, as loopback needs a cidr rule.
        Result loopback = egressd(env, "explain", "--allowlists", dir.toString(), "--server", "app", "--resolve",
                "svc.test:8080");
        assertThat(loopback.exit()).as(loopback.out() + loopback.err()).isEqualTo(1);
        assertThat(loopback.out().lines().toList()).containsExactly(
                "resolved: [127.0.0.1]",
                "denied",
                "server: app (enforce, " + file + ")",
                "destination: svc.test:8080",
                "reason: address_not_allowed",
                "rule: " + rule + "0]");
        Result v6 = egressd(env, "explain", "--allowlists", dir.toString(), "--server", "app", "--resolve",
                "svc6.test:8080");
        assertThat(v6.out()).startsWith("resolved: [0:0:0:0:0:0:0:1]\ndenied\n").contains("reason: address_not_allowed");

        // Without --resolve the same name is decided without addresses, provisionally.
        Result unresolved = egressd(env, "explain", "--allowlists", dir.toString(), "--server", "app", "svc.test:8080");
        assertThat(unresolved.exit()).as(unresolved.err()).isZero();
        assertThat(unresolved.out()).startsWith("allowed\n").doesNotContain("resolved:")
                .contains("rule: " + rule + "0]", "note: if svc.test resolves to an address this server may reach");

        // A name no rule allows is refused before any lookup.
        Result other = egressd(env, "explain", "--allowlists", dir.toString(), "--server", "app", "--resolve",
                "other.test:8080");
        assertThat(other.exit()).isEqualTo(1);
        assertThat(other.out()).startsWith("denied\n").doesNotContain("resolved:").contains("reason: host_not_allowed");

        // A name the hosts file lacks does not resolve: the lookup went nowhere else.
        Files.writeString(file, "  - host: missing.test\n    ports: [8080]\n", java.nio.file.StandardOpenOption.APPEND);
        Result missing = egressd(env, "explain", "--allowlists", dir.toString(), "--server", "app", "--resolve",
                "missing.test:8080");
        assertThat(missing.exit()).as(missing.out()).isEqualTo(2);
        assertThat(missing.err()).contains("egressd: missing.test does not resolve: ");
    }

    @Test
    void explainAllowsALoopbackNameThroughACidrRule(@TempDir Path tmp) throws Exception {
        Path hosts = Files.writeString(tmp.resolve("hosts"), "127.0.0.1 svc.test\n");
        Path dir = Files.createDirectories(tmp.resolve("policy"));
        Path file = Files.writeString(dir.resolve("app.yaml"), """
                server: app
                allow:
                  - host: svc.test
                    ports: [8080]
                  - cidr: 127.0.0.0/8
                    ports: [8080]
                """);
        Result r = egressd(hostsFile(hosts), "explain", "--allowlists", dir.toString(), "--server", "app", "--resolve",
                "svc.test:8080");
        assertThat(r.exit()).as(r.out() + r.err()).isZero();
        assertThat(r.out().lines().toList()).containsExactly(
                "resolved: [127.0.0.1]",
                "allowed",
                "server: app (enforce, " + file + ")",
                "destination: svc.test:8080",
                "rule: policy/app.yaml#allow[1]",
                "address: 127.0.0.1");

        // The cidr rule lists 8080 only: another port of the same name is refused by its host rule.
        Result port = egressd(hostsFile(hosts), "explain", "--allowlists", dir.toString(), "--server", "app",
                "--resolve", "svc.test:9090");
        assertThat(port.exit()).isEqualTo(1);
        assertThat(port.out()).contains("reason: port_not_allowed").doesNotContain("resolved:");
    }

    @Test
    void explainTakesAnAllowlistsDirectory(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("app.yaml"), """
                server: app
                allow:
                  - host: api.example.com
                  - cidr: 192.0.2.0/24
                    ports: [8443]
                """);
        String rule = dir.getFileName() + "/app.yaml#allow[";
        Result literal = egressd("explain", "--allowlists", dir.toString(), "--server", "app", "192.0.2.7:8443");
        assertThat(literal.exit()).as(literal.err()).isZero();
        assertThat(literal.out().lines().toList()).containsExactly(
                "allowed",
                "server: app (enforce, " + file + ")",
                "destination: 192.0.2.7:8443",
                "rule: " + rule + "1]",
                "address: 192.0.2.7");
        Result name = egressd("explain", "--allowlists", dir.toString(), "--server", "app", "api.example.com");
        assertThat(name.exit()).isZero();
        assertThat(name.out()).contains("destination: api.example.com:443", "rule: " + rule + "0]");
        // The shipped servers are not in this directory.
        Result slack = egressd("explain", "--allowlists", dir.toString(), "--server", "slack", "slack.com");
        assertThat(slack.exit()).isEqualTo(2);
        assertThat(slack.err()).contains("no allowlist for server \"slack\"; servers: app");
    }

    @Test
    void tokenPrintsAPasswordAndItsSha256() throws Exception {
        Result r = egressd("token");
        assertThat(r.exit()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines).hasSize(2);
        String password = lines.get(0).substring("password: ".length());
        String hash = lines.get(1).substring("token_sha256: ".length());
        assertThat(password).matches("[A-Za-z0-9_-]{43}");
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(password.getBytes(StandardCharsets.UTF_8));
        assertThat(hash).isEqualTo(HexFormat.of().formatHex(digest));
        assertThat(egressd("token").out()).doesNotContain(password);
    }

    @Test
    void binEgressdSaysHowToBuildWhenTheJarIsMissing(@TempDir Path dir) throws Exception {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Files.copy(ROOT.resolve("bin/egressd"), bin.resolve("egressd"));
        bin.resolve("egressd").toFile().setExecutable(true);
        Process p = new ProcessBuilder(bin.resolve("egressd").toString(), "check").start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(err).contains("egressd/target/egressd.jar is not built yet; build it with: mvn -B -q package -DskipTests");
    }
}
