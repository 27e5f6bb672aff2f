package io.egressd.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.egressd.policy.EgressListener;
import io.egressd.policy.Policy;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code dns.upstreams}, {@code dns.deny_rcode} and the checks on settings. (Parsing only: nothing is sent.) */
class DnsSettingsTest {

    @Test
    void systemReadsTheNameserversOfResolvConf(@TempDir Path dir) throws Exception {
        Path resolv = dir.resolve("resolv.conf");
        Files.writeString(resolv, """
                # generated
                search corp.example
                nameserver 10.0.0.2
                ; comment
                nameserver 2001:db8::53
                options ndots:5
                """);
        assertThat(DnsSettings.parseUpstreams(List.of("system", "10.0.0.3:5353"), resolv)).containsExactly(
                new InetSocketAddress(InetAddress.getByName("10.0.0.2"), 53),
                new InetSocketAddress(InetAddress.getByName("2001:db8::53"), 53),
                new InetSocketAddress(InetAddress.getByName("10.0.0.3"), 5353));
    }

    @Test
    void systemWithoutNameserversIsAnError(@TempDir Path dir) throws Exception {
        Path resolv = dir.resolve("resolv.conf");
        Files.writeString(resolv, "search example\n");
        assertThatThrownBy(() -> DnsSettings.parseUpstreams(List.of("system"), resolv))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no nameserver");
        assertThatThrownBy(() -> DnsSettings.parseUpstreams(List.of("system"), dir.resolve("missing")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("missing");
    }

    @Test
    void addressesWithAndWithoutPorts() throws Exception {
        assertThat(DnsSettings.parseUpstreams(List.of("10.0.0.2", "10.0.0.2:53", "[2001:db8::1]:5353", "2001:db8::2")))
                .containsExactly(
                        new InetSocketAddress(InetAddress.getByName("10.0.0.2"), 53),
                        new InetSocketAddress(InetAddress.getByName("10.0.0.2"), 53),
                        new InetSocketAddress(InetAddress.getByName("2001:db8::1"), 5353),
                        new InetSocketAddress(InetAddress.getByName("2001:db8::2"), 53));
    }

    @Test
    void namesAndBadPortsAreRejected() {
        for (String bad : List.of("dns.example.com", "10.0.0.2:0", "10.0.0.2:99999", "10.0.0.2:x", "[::1",
                "010.0.0.2", "", "[fe80::1%eth0]:53")) {
            assertThatThrownBy(() -> DnsSettings.parseUpstreams(List.of(bad))).as(bad)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("upstream");
        }
        assertThatThrownBy(() -> DnsSettings.parseUpstreams(List.of())).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void denyRcodeParses() {
        assertThat(DenyRcode.parse("NXDOMAIN")).isEqualTo(DenyRcode.NXDOMAIN);
        assertThat(DenyRcode.parse("refused")).isEqualTo(DenyRcode.REFUSED);
        assertThatThrownBy(() -> DenyRcode.parse("SERVFAIL")).hasMessageContaining("NXDOMAIN or REFUSED");
    }

    @Test
    void settingsAreChecked() {
        InetSocketAddress listen = new InetSocketAddress(InetAddress.getLoopbackAddress(), 0);
        InetSocketAddress upstream = new InetSocketAddress(InetAddress.getLoopbackAddress(), 53);
        assertThatThrownBy(() -> DnsSettings.of(listen, List.of())).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new DnsSettings(listen, null, List.of(upstream), Duration.ZERO, DenyRcode.NXDOMAIN, 1))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new DnsSettings(listen, null, List.of(upstream), Duration.ofSeconds(1),
                DenyRcode.NXDOMAIN, -1)).isInstanceOf(IllegalArgumentException.class);
        DnsSettings defaults = DnsSettings.of(listen, List.of(upstream));
        assertThat(defaults.denyRcode()).isEqualTo(DenyRcode.NXDOMAIN);
        assertThat(defaults.upstreamTimeout()).isEqualTo(DnsSettings.DEFAULT_UPSTREAM_TIMEOUT);
    }

    @Test
    void anUpstreamThatIsThisListenerIsRefused() {
        InetSocketAddress self = new InetSocketAddress(InetAddress.getLoopbackAddress(), 5053);
        assertThatThrownBy(() -> DnsFilter.start(DnsSettings.of(self, List.of(self)), Policy::empty,
                EgressListener.NONE)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("loop");
        InetSocketAddress wildcard = new InetSocketAddress(5053);
        assertThatThrownBy(() -> DnsFilter.start(DnsSettings.of(wildcard, List.of(self)), Policy::empty,
                EgressListener.NONE)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("loop");
    }

    @Test
    void boundServerIdentifiesEveryClient(@TempDir Path dir) throws Exception {
        try (Harness dns = Harness.start(dir, s -> new DnsSettings(s.listen(), "app", s.upstreams(),
                s.upstreamTimeout(), s.denyRcode(), s.cacheMaxEntries()), System::nanoTime)) {
            dns.upstream.answer("api.example.com", org.xbill.DNS.Type.A,
                    TestUpstream.a("api.example.com", 60, "93.184.215.70"));
            assertThat(dns.client(false, "127.0.0.9").send(Harness.newQuery("api.example.com", org.xbill.DNS.Type.A))
                    .getRcode()).isEqualTo(org.xbill.DNS.Rcode.NOERROR);
            assertThat(dns.listener.last("api.example.com").decision().server()).isEqualTo("app");
        }
    }
}
