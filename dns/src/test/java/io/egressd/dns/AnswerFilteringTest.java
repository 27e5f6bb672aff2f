package io.egressd.dns;

import static io.egressd.dns.TestUpstream.a;
import static io.egressd.dns.TestUpstream.aaaa;
import static io.egressd.dns.TestUpstream.cname;
import static io.egressd.dns.TestUpstream.name;
import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.policy.Reason;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.HTTPSRecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SVCBBase;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/** Addresses of allowed names go through the proxy's rules: no loopback, metadata or unlisted private ranges. */
class AnswerFilteringTest {

    @TempDir
    static Path allowlists;
    static Harness dns;

    @BeforeAll
    static void start() throws Exception {
        dns = Harness.start(allowlists);
    }

    @AfterAll
    static void stop() {
        dns.close();
    }

    private static List<String> addresses(Message m) {
        return m.getSection(Section.ANSWER).stream()
                .filter(r -> r instanceof ARecord || r instanceof AAAARecord)
                .map(r -> r instanceof ARecord a ? a.getAddress().getHostAddress()
                        : ((AAAARecord) r).getAddress().getHostAddress())
                .toList();
    }

    @Test
    void loopbackAndMetadataAddressesAreRemoved() throws Exception {
        dns.upstream.answer("rebind.example.org", Type.A, a("rebind.example.org", 60, "127.0.0.1"),
                a("rebind.example.org", 60, "169.254.169.254"), a("rebind.example.org", 60, "93.184.215.40"));
        for (boolean tcp : new boolean[] {false, true}) {
            assertThat(addresses(dns.query("rebind.example.org", Type.A, tcp))).containsExactly("93.184.215.40");
        }
        Dig.Result dig = Dig.query(dns.port(), "rebind.example.org", "A");
        assertThat(dig.answers()).singleElement().asString().contains("93.184.215.40");
        assertThat(dig.output()).doesNotContain("127.0.0.1\n", "169.254.169.254");
        assertThat(dns.listener.last("rebind.example.org").decision().allowed()).isTrue();
        assertThat(dns.listener.last("rebind.example.org").decision().address())
                .isEqualTo(InetAddress.getByName("93.184.215.40"));
    }

    /**
     * Rebinding through an allowed name to addresses no connection could use either: each is
     * removed from the answer, the public address beside it kept. 100.64/10 (CGNAT) is private
     * and *.example.org has no {@code private: true}.
     */
    @ParameterizedTest
    @CsvSource({
        "unspecified, 0.0.0.0",
        "multicast, 224.0.0.1",
        "broadcast, 255.255.255.255",
        "documentation, 192.0.2.1",
        "cgnat, 100.64.0.1",
    })
    void unusableAndUnlistedPrivateAddressesAreRemoved(String label, String address) throws Exception {
        String name = label + ".rebind.example.org";
        dns.upstream.answer(name, Type.A, a(name, 60, address), a(name, 60, "93.184.215.43"));
        for (boolean tcp : new boolean[] {false, true}) {
            assertThat(addresses(dns.query(name, Type.A, tcp))).as(address).containsExactly("93.184.215.43");
        }
        assertThat(Dig.query(dns.port(), name, "A").answers()).singleElement().asString()
                .contains("93.184.215.43");
    }

    @Test
    void anAnswerOfOnlyForbiddenAddressesBecomesNoData() throws Exception {
        dns.upstream.answer("meta.example.org", Type.A, a("meta.example.org", 60, "169.254.169.254"));
        dns.upstream.answer("loop.example.org", Type.A, a("loop.example.org", 60, "127.0.0.1"));
        for (String name : List.of("meta.example.org", "loop.example.org")) {
            Message answer = dns.query(name, Type.A, false);
            assertThat(answer.getRcode()).isEqualTo(Rcode.NOERROR);
            assertThat(answer.getSection(Section.ANSWER)).isEmpty();
            RecordingListener.Query reported = dns.listener.last(name);
            assertThat(reported.decision().denied()).isTrue();
            assertThat(reported.decision().reason()).isEqualTo(Reason.ADDRESS_NOT_ALLOWED);
            assertThat(reported.rcode()).isEqualTo("NOERROR");
        }
    }

    @Test
    void ipv6LoopbackLinkLocalAndEc2MetadataAreRemoved() throws Exception {
        dns.upstream.answer("six.example.org", Type.AAAA, aaaa("six.example.org", 60, "::1"),
                aaaa("six.example.org", 60, "fe80::1"), aaaa("six.example.org", 60, "fd00:ec2::254"),
                aaaa("six.example.org", 60, "::ffff:127.0.0.1"), aaaa("six.example.org", 60, "2606:4700::1111"));
        assertThat(addresses(dns.query("six.example.org", Type.AAAA, false)))
                .containsExactly(InetAddress.getByName("2606:4700::1111").getHostAddress());
    }

    @Test
    void aCnameOutsideTheAllowlistOnlyYieldsVettedAddresses() throws Exception {
        dns.upstream.answer("cdn.example.org", Type.A,
                List.of(cname("cdn.example.org", 60, "edge.attacker.example"),
                        a("edge.attacker.example", 60, "127.0.0.1"),
                        a("edge.attacker.example", 60, "93.184.215.41"),
                        a("api.example.com", 60, "93.184.215.66")),
                List.of(a("ns.attacker.example", 60, "169.254.169.254")));
        Message answer = dns.query("cdn.example.org", Type.A, false);
        assertThat(answer.getSection(Section.ANSWER)).extracting(r -> r.getName().toString(true) + " "
                + Type.string(r.getType())).containsExactly("cdn.example.org CNAME", "edge.attacker.example A");
        assertThat(addresses(answer)).containsExactly("93.184.215.41");
        assertThat(answer.getSection(Section.ADDITIONAL)).as("no glue reaches the client")
                .allMatch(r -> r.getType() == Type.OPT);
        // The chain's target is still not a name the client may ask for itself.
        assertThat(dns.query("edge.attacker.example", Type.A, false).getRcode()).isEqualTo(Rcode.NXDOMAIN);
    }

    @Test
    void privateAddressesNeedPrivateTrueOrACidrRule() throws Exception {
        dns.upstream.answer("db.example.com", Type.A, a("db.example.com", 60, "10.1.2.3"));
        dns.upstream.answer("intranet.example.org", Type.A, a("intranet.example.org", 60, "10.1.2.3"),
                a("intranet.example.org", 60, "192.168.1.1"));
        dns.upstream.answer("ten.example.com", Type.A, a("ten.example.com", 60, "10.9.1.1"),
                a("ten.example.com", 60, "10.8.1.1"));
        assertThat(addresses(dns.query("db.example.com", Type.A, false))).containsExactly("10.1.2.3");
        assertThat(addresses(dns.query("intranet.example.org", Type.A, false))).isEmpty();
        assertThat(addresses(dns.query("ten.example.com", Type.A, false))).containsExactly("10.9.1.1");
    }

    @Test
    void httpsAddressHintsAreFilteredToo() throws Exception {
        Record https = new HTTPSRecord(name("svc.example.org"), DClass.IN, 60, 1, name("."),
                List.of(new SVCBBase.ParameterAlpn(List.of("h2")),
                        new SVCBBase.ParameterIpv4Hint(List.of(
                                (java.net.Inet4Address) InetAddress.getByName("127.0.0.1"),
                                (java.net.Inet4Address) InetAddress.getByName("93.184.215.42")))));
        dns.upstream.answer("svc.example.org", Type.HTTPS, https);
        Message answer = dns.query("svc.example.org", Type.HTTPS, false);
        HTTPSRecord got = (HTTPSRecord) answer.getSection(Section.ANSWER).get(0);
        SVCBBase.ParameterIpv4Hint hint = (SVCBBase.ParameterIpv4Hint) got.getSvcParamValue(SVCBBase.IPV4HINT);
        assertThat(hint.getAddresses()).extracting(InetAddress::getHostAddress).containsExactly("93.184.215.42");
        assertThat(got.getSvcParamValue(SVCBBase.ALPN)).isNotNull();
    }

    @Test
    void filteringFollowsThePolicyOfEachClientFromOneCacheEntry() throws Exception {
        // The same cached answer, two servers: "app" may not have the private address; "other"
        // (report mode) may, with would_deny on its decision.
        dns.upstream.answer("shared.example.org", Type.A, a("shared.example.org", 60, "10.2.2.2"));
        assertThat(addresses(dns.query("shared.example.org", Type.A, false))).isEmpty();
        Message report = dns.client(false, "127.0.0.2").send(Harness.newQuery("shared.example.org", Type.A));
        assertThat(addresses(report)).containsExactly("10.2.2.2");
        assertThat(dns.upstream.queriesFor("shared.example.org")).isEqualTo(1);
    }

    @Test
    void reportModeStillKeepsLoopbackAndMetadataOut() throws Exception {
        // "other" is in report mode: public and private addresses pass with would_deny, but the
        // address floor (loopback, link-local, metadata) holds in every mode.
        dns.upstream.answer("floor.example.org", Type.A, a("floor.example.org", 60, "127.0.0.1"),
                a("floor.example.org", 60, "169.254.169.254"), a("floor.example.org", 60, "10.3.3.3"));
        Message report = dns.client(false, "127.0.0.2").send(Harness.newQuery("floor.example.org", Type.A));
        assertThat(addresses(report)).containsExactly("10.3.3.3");
        dns.upstream.answer("onlymeta.example.org", Type.A, a("onlymeta.example.org", 60, "169.254.169.254"));
        Message none = dns.client(false, "127.0.0.2").send(Harness.newQuery("onlymeta.example.org", Type.A));
        assertThat(none.getRcode()).isEqualTo(Rcode.NOERROR);
        assertThat(addresses(none)).isEmpty();
    }
}
