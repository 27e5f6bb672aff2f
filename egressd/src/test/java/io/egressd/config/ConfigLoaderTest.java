package io.egressd.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.egressd.policy.PolicyException;
import io.egressd.policy.ValidationError;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {

    @TempDir
    Path dir;

    private Path write(String text) throws Exception {
        Path file = dir.resolve("egressd.yaml");
        Files.writeString(file, text);
        return file;
    }

    private List<String> errors(String text) throws Exception {
        Path file = write(text);
        try {
            ConfigLoader.load(file);
        } catch (PolicyException e) {
            return e.errors().stream().map(ValidationError::toString)
                    .map(s -> s.substring(file.toString().length())).toList();
        }
        throw new AssertionError("expected errors for:\n" + text);
    }

    @Test
    void defaultsBindToLoopbackAndDeny() {
        Config c = Config.defaults();
        assertThat(c.listen().http()).isEqualTo(new InetSocketAddress("127.0.0.1", 3128));
        assertThat(c.listen().dns()).isEqualTo(new InetSocketAddress("127.0.0.1", 5053));
        assertThat(c.listen().admin()).isEqualTo(new InetSocketAddress("127.0.0.1", 9464));
        assertThat(c.listen().socks()).isNull();
        assertThat(c.dns().denyRcode()).isEqualTo("NXDOMAIN");
        assertThat(c.server()).isNull();
    }

    @Test
    void emptyFileMeansDefaults() throws Exception {
        Config c = ConfigLoader.load(write(""));
        assertThat(c.listen()).isEqualTo(Config.DEFAULT_LISTEN);
        assertThat(c.allowlists()).isEqualTo(dir.resolve("allowlists"));
    }

    @Test
    void everyKeyIsRead() throws Exception {
        Config c = ConfigLoader.load(write("""
                allowlists: /etc/egressd/allowlists
                server: slack
                listen:
                  http: 0.0.0.0:3128
                  socks: 127.0.0.1:1080
                  dns: "[::1]:53"
                  admin: null
                dns:
                  upstreams: [system, "10.0.0.2:53"]
                  deny_rcode: REFUSED
                  timeout: 1500ms
                audit:
                  output: audit.log
                  allowed: false
                  dns_allowed: true
                  on_failure: continue
                deny:
                  hosts: ["*.pastebin.com"]
                  cidrs: [10.0.0.0/8]
                limits: {connect_timeout: 5s, idle_timeout: 10m, max_connections: 100, header_timeout: 4s,
                         max_connections_per_source: 30, max_connections_per_server: 20,
                         requests_per_second_per_server: 9, shutdown_grace: 2500ms}
                """));
        assertThat(c.allowlists()).isEqualTo(Path.of("/etc/egressd/allowlists"));
        assertThat(c.server()).isEqualTo("slack");
        assertThat(c.listen().http()).isEqualTo(new InetSocketAddress("0.0.0.0", 3128));
        assertThat(c.listen().socks()).isEqualTo(new InetSocketAddress("127.0.0.1", 1080));
        assertThat(c.listen().dns()).isEqualTo(new InetSocketAddress("::1", 53));
        assertThat(c.listen().admin()).isNull();
        assertThat(c.dns().upstreams()).containsExactly("system", "10.0.0.2:53");
        assertThat(c.dns().denyRcode()).isEqualTo("REFUSED");
        assertThat(c.dns().timeout()).isEqualTo(Duration.ofMillis(1500));
        assertThat(c.audit().output()).isEqualTo(dir.resolve("audit.log").toString());
        assertThat(c.audit().allowed()).isFalse();
        assertThat(c.audit().dnsAllowed()).isTrue();
        assertThat(c.audit().refuseOnFailure()).isFalse();
        assertThat(c.deny().denyingName("x.pastebin.com").id()).isEqualTo("egressd.yaml#deny.hosts[0]");
        assertThat(c.deny().denyingName("localhost").id()).isEqualTo("builtin:localhost");
        assertThat(c.deny().denyingAddress(java.net.InetAddress.getByName("10.1.2.3")).id())
                .isEqualTo("egressd.yaml#deny.cidrs[0]");
        assertThat(c.limits()).isEqualTo(new Config.Limits(Duration.ofSeconds(5), Duration.ofMinutes(10), 100,
                Duration.ofSeconds(4), 30, 20, 9, Duration.ofMillis(2500)));
        assertThat(c.limits().connectTimeout()).isEqualTo(Duration.ofSeconds(5));
    }

    @Test
    void floodLimitsHaveSafeDefaultsAndAreRead() throws Exception {
        Config.Limits defaults = ConfigLoader.load(write("limits: {max_connections: 50}")).limits();
        assertThat(defaults.headerTimeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(defaults.maxConnectionsPerSource()).isEqualTo(256);
        assertThat(defaults.maxConnections()).isEqualTo(50);
        assertThat(defaults.maxConnectionsPerServer()).isEqualTo(1024);
        assertThat(defaults.requestsPerSecondPerServer()).as("no rate limit unless set").isZero();

        Config.Limits set = ConfigLoader.load(write("limits: {header_timeout: 2s, max_connections_per_source: 8}"))
                .limits();
        assertThat(set.headerTimeout()).isEqualTo(Duration.ofSeconds(2));
        assertThat(set.maxConnectionsPerSource()).isEqualTo(8);
        assertThat(set.maxConnections()).isEqualTo(10_000);

        Config.Limits perServer = ConfigLoader.load(write(
                "limits: {max_connections_per_server: 40, requests_per_second_per_server: 7}")).limits();
        assertThat(perServer.maxConnectionsPerServer()).isEqualTo(40);
        assertThat(perServer.requestsPerSecondPerServer()).isEqualTo(7);
        assertThat(ConfigLoader.load(write("limits: {requests_per_second_per_server: 0}")).limits()
                .requestsPerSecondPerServer()).isZero();

        assertThat(errors("limits: {header_timeout: 0s, max_connections_per_source: 0}")).containsExactly(
                ":1:26: limits.header_timeout: expected a duration such as 500ms, 10s, 5m or 1h",
                ":1:58: limits.max_connections_per_source: expected a whole number from 1 to 9999999");
    }

    @Test
    void dnsTcpLimitsHaveSafeDefaultsAndAreRead() throws Exception {
        Config.Dns defaults = ConfigLoader.load(write("dns: {timeout: 2s}")).dns();
        assertThat(defaults.tcpMaxConnections()).isEqualTo(1024);
        assertThat(defaults.tcpMaxConnectionsPerSource()).isEqualTo(64);
        assertThat(defaults.tcpFrameTimeout()).isEqualTo(Duration.ofSeconds(5));

        Config.Dns set = ConfigLoader.load(write(
                "dns: {tcp_max_connections: 10, tcp_max_connections_per_source: 3, tcp_frame_timeout: 800ms}")).dns();
        assertThat(set.tcpMaxConnections()).isEqualTo(10);
        assertThat(set.tcpMaxConnectionsPerSource()).isEqualTo(3);
        assertThat(set.tcpFrameTimeout()).isEqualTo(Duration.ofMillis(800));
        assertThat(set.timeout()).isEqualTo(Duration.ofSeconds(3));
    }

    @Test
    void dnsUdpRateLimitHasASafeDefaultCanBeSetOrTurnedOffAndIsCheckedStrictly() throws Exception {
        Config.Dns defaults = ConfigLoader.load(write("dns: {timeout: 2s}")).dns();
        assertThat(defaults.udpQueriesPerSecondPerSource()).isEqualTo(1000);
        assertThat(defaults.udpQueryBurstPerSource()).isEqualTo(2000);

        Config.Dns set = ConfigLoader.load(write(
                "dns: {udp_queries_per_second_per_source: 50, udp_query_burst_per_source: 80}")).dns();
        assertThat(set.udpQueriesPerSecondPerSource()).isEqualTo(50);
        assertThat(set.udpQueryBurstPerSource()).isEqualTo(80);
        assertThat(ConfigLoader.load(write("dns: {udp_queries_per_second_per_source: 0}")).dns()
                .udpQueriesPerSecondPerSource()).isZero();

        assertThat(errors("dns: {udp_queries_per_second_per_source: -1, udp_query_burst_per_source: 0}"))
                .containsExactly(
                        ":1:42: dns.udp_queries_per_second_per_source: expected a whole number from 0 (off) to 9999999",
                        ":1:74: dns.udp_query_burst_per_source: expected a whole number from 1 to 9999999");
    }

    @Test
    void errorsNameLineColumnAndWhatToWrite() throws Exception {
        assertThat(errors("""
                listen:
                  htp: 127.0.0.1:3128
                  dns: localhost:53
                dns:
                  deny_rcode: SERVFAIL
                limits:
                  idle_timeout: 5 minutes
                deny:
                  hosts: ["*.co.uk"]
                  cidrs: [10.0.0.1/8]
                """)).containsExactly(
                ":2:3: listen: unknown key \"htp\"; did you mean \"http\"? Known keys: http, socks, dns, admin",
                ":3:8: listen.dns: \"localhost:53\" is not an address with port such as 127.0.0.1:3128,"
                        + " 0.0.0.0:3128 or [::1]:3128 (write null to turn the listener off)",
                ":5:15: dns.deny_rcode: write NXDOMAIN or REFUSED",
                ":7:17: limits.idle_timeout: expected a duration such as 500ms, 10s, 5m or 1h",
                ":9:11: deny.hosts[0]: \"*.co.uk\" is a wildcard over the public suffix \"co.uk\"; name a registered"
                        + " domain, e.g. \"*.example.co.uk\"",
                ":10:11: deny.cidrs[0]: \"10.0.0.1/8\" has host bits set; write 10.0.0.0/8");
    }

    @Test
    void auditOnFailureDefaultsToRefuseAndIsReadStrictly() throws Exception {
        assertThat(ConfigLoader.load(write("audit: {allowed: true}")).audit().refuseOnFailure()).isTrue();
        assertThat(ConfigLoader.load(write("audit: {on_failure: refuse}")).audit().refuseOnFailure()).isTrue();
        assertThat(ConfigLoader.load(write("audit: {on_failure: continue}")).audit().refuseOnFailure()).isFalse();
        assertThat(errors("""
                audit:
                  on_failure: ignore
                """)).containsExactly(":2:15: audit.on_failure: write refuse or continue");
        assertThat(errors("""
                audit:
                  on_failure: [refuse]
                """)).singleElement().asString().startsWith(":2:15: audit.on_failure: expected a string");
    }

    @Test
    void shutdownGraceDefaultsToTenSecondsAndIsReadStrictly() throws Exception {
        assertThat(ConfigLoader.load(write("limits: {max_connections: 5}")).limits().shutdownGrace())
                .isEqualTo(Duration.ofSeconds(10));
        assertThat(ConfigLoader.load(write("limits: {shutdown_grace: 1500ms}")).limits().shutdownGrace())
                .isEqualTo(Duration.ofMillis(1500));
        assertThat(errors("""
                limits:
                  shutdown_grace: 0s
                """)).containsExactly(
                ":2:19: limits.shutdown_grace: expected a duration such as 500ms, 10s, 5m or 1h");
    }

    @Test
    void durationsAreBoundedAndIdleTimeoutIsAtLeastOneSecond() throws Exception {
        assertThat(errors("""
                limits:
                  idle_timeout: 500ms
                  connect_timeout: 25h
                  shutdown_grace: 1441m
                dns: {timeout: 999999999h}
                """)).containsExactly(
                ":2:17: limits.idle_timeout: 500ms is out of range; write a duration from 1s to 24h, such as 300s",
                ":3:20: limits.connect_timeout: 25h is out of range; write a duration from 1ms to 24h, such as 10s",
                ":4:19: limits.shutdown_grace: 1441m is out of range; write a duration from 1ms to 24h, such as 10s",
                ":5:16: dns.timeout: 999999999h is out of range; write a duration from 1ms to 24h, such as 3s");
        // The bounds themselves are fine; the HTTP proxy rounds a fraction of a second up (docs/config.md).
        Config.Limits edges = ConfigLoader.load(write("limits: {idle_timeout: 1s, connect_timeout: 24h}")).limits();
        assertThat(edges.idleTimeout()).isEqualTo(Duration.ofSeconds(1));
        assertThat(edges.connectTimeout()).isEqualTo(Duration.ofHours(24));
        assertThat(ConfigLoader.load(write("limits: {idle_timeout: 1500ms}")).limits().idleTimeout())
                .isEqualTo(Duration.ofMillis(1500));
    }

    @Test
    void notYamlIsAnErrorNotDefaults() throws Exception {
        assertThat(errors("listen: [unclosed\n")).singleElement().asString().startsWith(":2:1: not valid YAML");
        assertThatThrownBy(() -> ConfigLoader.load(dir.resolve("missing.yaml")))
                .isInstanceOf(PolicyException.class).hasMessageContaining("missing.yaml:1:1: cannot read file");
    }
}
