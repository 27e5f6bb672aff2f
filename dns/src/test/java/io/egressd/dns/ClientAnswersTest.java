package io.egressd.dns;

import static io.egressd.dns.TestUpstream.a;
import static io.egressd.dns.TestUpstream.aaaa;
import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.policy.Reason;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.MXRecord;
import org.xbill.DNS.Name;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.SVCBBase;
import org.xbill.DNS.SVCBRecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/** Real clients (dig, dnsjava) against the filter in front of a loopback upstream. */
class ClientAnswersTest {

    @TempDir
    static Path allowlists;
    static Harness dns;

    @BeforeAll
    static void start() throws IOException {
        dns = Harness.start(allowlists);
        dns.upstream.answer("api.example.com", Type.A, a("api.example.com", 300, "93.184.215.14"))
                .answer("api.example.com", Type.AAAA, aaaa("api.example.com", 300, "2606:4700::1111"))
                .answer("www.example.org", Type.A, a("www.example.org", 300, "93.184.215.15"))
                .answer("tcp.example.org", Type.A, a("tcp.example.org", 300, "93.184.215.16"));
        for (int i = 0; i < 20; i++) {
            dns.upstream.answer("p" + i + ".example.org", Type.A, a("p" + i + ".example.org", 300, "93.184.216." + i));
        }
    }

    @AfterAll
    static void stop() {
        dns.close();
    }

    @Test
    void digGetsAllowedNamesOverUdpAndTcp() throws Exception {
        Dig.Result udp = Dig.query(dns.port(), "api.example.com", "A", "+notcp");
        assertThat(udp.status()).isEqualTo("NOERROR");
        assertThat(udp.flags()).contains("qr", "rd", "ra").doesNotContain("tc", "aa");
        assertThat(udp.answers()).singleElement().asString().contains("api.example.com.", "IN\tA", "93.184.215.14");

        Dig.Result tcp = Dig.query(dns.port(), "tcp.example.org", "A", "+tcp");
        assertThat(tcp.status()).isEqualTo("NOERROR");
        assertThat(tcp.flags()).contains("qr", "rd", "ra");
        assertThat(tcp.answers()).singleElement().asString().contains("93.184.215.16");
    }

    @Test
    void udpQueriesFromManySourcePortsAreAllAnsweredWhicheverSocketOfThePortTakesThem() throws IOException {
        // The filter binds one UDP socket per I/O thread on its port; the kernel picks one by source.
        for (int i = 0; i < 40; i++) {
            int n = i % 20;
            Message m = dns.query("p" + n + ".example.org", Type.A, false); // a fresh source port each time
            assertThat(m.getRcode()).isEqualTo(Rcode.NOERROR);
            assertThat(m.getSection(Section.ANSWER)).singleElement().satisfies(r -> assertThat(
                    ((ARecord) r).getAddress().getHostAddress()).isEqualTo("93.184.216." + n));
        }
    }

    @Test
    void dnsjavaGetsAllowedNamesOverUdpAndTcp() throws IOException {
        for (boolean tcp : new boolean[] {false, true}) {
            Message a = dns.query("www.example.org", Type.A, tcp);
            assertThat(a.getRcode()).isEqualTo(Rcode.NOERROR);
            assertThat(a.getSection(Section.ANSWER)).singleElement()
                    .satisfies(r -> assertThat(((ARecord) r).getAddress().getHostAddress()).isEqualTo("93.184.215.15"));

            Message aaaa = dns.query("api.example.com", Type.AAAA, tcp);
            assertThat(aaaa.getSection(Section.ANSWER)).singleElement()
                    .satisfies(r -> assertThat(((AAAARecord) r).getAddress())
                            .isEqualTo(InetAddress.getByName("2606:4700::1111")));
        }
    }

    @Test
    void deniedNamesGetNxdomainOverUdpAndTcpAndNeverGoUpstream() throws Exception {
        Dig.Result udp = Dig.query(dns.port(), "secret-abc.attacker.example", "A", "+notcp");
        Dig.Result tcp = Dig.query(dns.port(), "secret-def.attacker.example", "TXT", "+tcp");
        assertThat(udp.status()).isEqualTo("NXDOMAIN");
        assertThat(tcp.status()).isEqualTo("NXDOMAIN");
        assertThat(udp.answers()).isEmpty();
        assertThat(dns.query("evilexample.org", Type.A, false).getRcode()).isEqualTo(Rcode.NXDOMAIN);
        assertThat(dns.query("example.org", Type.A, true).getRcode())
                .as("*.example.org never covers example.org itself").isEqualTo(Rcode.NXDOMAIN);
        assertThat(dns.upstream.queriesFor("secret-abc.attacker.example")).isZero();
        assertThat(dns.upstream.queriesFor("secret-def.attacker.example")).isZero();
        assertThat(dns.upstream.queriesFor("evilexample.org")).isZero();
        RecordingListener.Query reported = dns.listener.last("secret-abc.attacker.example");
        assertThat(reported.decision().denied()).isTrue();
        assertThat(reported.decision().reason()).isEqualTo(Reason.HOST_NOT_ALLOWED);
        assertThat(reported.decision().server()).isEqualTo("app");
        assertThat(reported.rcode()).isEqualTo("NXDOMAIN");
        assertThat(reported.qtype()).isEqualTo("A");
    }

    @Test
    void aQueryIsReportedWithItsNameAsAskedCaseKept() throws Exception {
        // Data smuggled out in a label (base64 here) is case-sensitive: the audit keeps it as sent.
        assertThat(dns.query("c2VjcmV0.Attacker.example", Type.A, false).getRcode()).isEqualTo(Rcode.NXDOMAIN);
        RecordingListener.Query reported = dns.listener.last("c2VjcmV0.Attacker.example");
        assertThat(reported.decision().reason()).isEqualTo(Reason.HOST_NOT_ALLOWED);
        assertThat(reported.decision().host()).isEqualTo("c2vjcmv0.attacker.example");
    }

    @Test
    void alwaysDeniedNamesAreNxdomainToo() throws IOException {
        for (String name : List.of("localhost", "metadata.google.internal", "printer.local", "x.in-addr.arpa")) {
            assertThat(dns.query(name, Type.A, false).getRcode()).as(name).isEqualTo(Rcode.NXDOMAIN);
            assertThat(dns.upstream.queriesFor(name)).isZero();
        }
    }

    @Test
    void refusedIsTheDenyAnswerWhenConfigured(@TempDir Path dir) throws Exception {
        try (Harness refusing = Harness.start(dir, s -> new DnsSettings(s.listen(), s.boundServer(), s.upstreams(),
                s.upstreamTimeout(), DenyRcode.REFUSED, s.cacheMaxEntries()), System::nanoTime)) {
            assertThat(Dig.query(refusing.port(), "leak.attacker.example", "A", "+notcp").status())
                    .isEqualTo("REFUSED");
            assertThat(Dig.query(refusing.port(), "leak2.attacker.example", "A", "+tcp").status())
                    .isEqualTo("REFUSED");
            assertThat(refusing.query("leak3.attacker.example", Type.AAAA, false).getRcode())
                    .isEqualTo(Rcode.REFUSED);
            Message overTcp = refusing.query("leak4.attacker.example", Type.A, true);
            assertThat(overTcp.getRcode()).isEqualTo(Rcode.REFUSED);
            assertThat(overTcp.getSection(Section.ANSWER)).isEmpty();
            assertThat(refusing.listener.last("leak4.attacker.example").decision().reason())
                    .isEqualTo(Reason.HOST_NOT_ALLOWED);
            assertThat(refusing.upstream.queries()).isZero();
        }
    }

    @Test
    void mxSrvSvcbAndCnameOfAnAllowedNameAreForwardedAndAnsweredWithUpstreamsRecords() throws Exception {
        String name = "types.example.org";
        Name target = TestUpstream.name("mail.example.org");
        Map<Integer, Record> served = Map.of(
                Type.MX, new MXRecord(TestUpstream.name(name), DClass.IN, 300, 10, target),
                Type.SRV, new SRVRecord(TestUpstream.name(name), DClass.IN, 300, 1, 5, 5060, target),
                Type.SVCB, new SVCBRecord(TestUpstream.name(name), DClass.IN, 300, 1, target,
                        List.of(new SVCBBase.ParameterAlpn(List.of("h2")), new SVCBBase.ParameterPort(8443))),
                Type.CNAME, TestUpstream.cname(name, 300, "edge.example.org"));
        served.forEach((type, record) -> dns.upstream.answer(name, type, record));
        for (boolean tcp : new boolean[] {false, true}) {
            for (Map.Entry<Integer, Record> e : served.entrySet()) {
                String type = Type.string(e.getKey());
                Message answer = dns.query(name, e.getKey(), tcp);
                assertThat(answer.getRcode()).as(type).isEqualTo(Rcode.NOERROR);
                assertThat(answer.getSection(Section.ANSWER)).as(type).containsExactly(e.getValue());
                assertThat(dns.listener.last(name).qtype()).isEqualTo(type);
                assertThat(dns.listener.last(name).decision().allowed()).as(type).isTrue();
            }
        }
        // Each type went upstream once as its own question (the second round came from the cache).
        assertThat(dns.upstream.received()).filteredOn(m -> m.getQuestion().getName().equals(TestUpstream.name(name)))
                .extracting(m -> Type.string(m.getQuestion().getType()))
                .containsExactlyInAnyOrder("MX", "SRV", "SVCB", "CNAME");
        Dig.Result mx = Dig.query(dns.port(), name, "MX", "+tcp");
        assertThat(mx.status()).isEqualTo("NOERROR");
        assertThat(mx.answers()).singleElement().asString().contains("MX", "10 mail.example.org.");
        Dig.Result srv = Dig.query(dns.port(), name, "SRV", "+notcp");
        assertThat(srv.answers()).singleElement().asString().contains("SRV", "1 5 5060 mail.example.org.");
    }

    @Test
    void anyPtrAndOtherTypesAreRefusedAsQtypeNotAllowed() throws Exception {
        int before = dns.upstream.queries();
        assertThat(dns.query("api.example.com", Type.ANY, false).getRcode()).isEqualTo(Rcode.REFUSED);
        assertThat(dns.listener.last("api.example.com").decision().reason()).isEqualTo(Reason.QTYPE_NOT_ALLOWED);
        assertThat(dns.listener.last("api.example.com").qtype()).isEqualTo("ANY");
        assertThat(dns.query("14.215.184.93.in-addr.arpa", Type.PTR, true).getRcode()).isEqualTo(Rcode.REFUSED);
        assertThat(dns.listener.last("14.215.184.93.in-addr.arpa").decision().reason())
                .isEqualTo(Reason.QTYPE_NOT_ALLOWED);
        assertThat(Dig.query(dns.port(), "api.example.com", "ANY").status()).isEqualTo("REFUSED");
        for (int type : new int[] {Type.NS, Type.SOA, Type.CAA, Type.AXFR, Type.NULL, 65280}) {
            // Raw bytes: dnsjava's resolver turns an AXFR into a zone transfer client.
            byte[] answer = RawClient.tcp(dns.port(), Harness.newQuery("api.example.com", type).toWire());
            assertThat(new Message(answer).getRcode()).as(Type.string(type)).isEqualTo(Rcode.REFUSED);
        }
        assertThat(dns.upstream.queries()).isEqualTo(before);
    }

    @Test
    void unknownClientIsRefused() throws Exception {
        Message answer = dns.client(false, "127.0.0.9").send(Harness.newQuery("api.example.com", Type.A));
        assertThat(answer.getRcode()).isEqualTo(Rcode.REFUSED);
        assertThat(answer.getSection(Section.ANSWER)).isEmpty();
        RecordingListener.Query reported = dns.listener.queries.stream()
                .filter(q -> q.client().getAddress().getHostAddress().equals("127.0.0.9")).findFirst().orElseThrow();
        assertThat(reported.decision().reason()).isEqualTo(Reason.UNKNOWN_CLIENT);
        assertThat(reported.decision().server()).isNull();
        // Over TCP too: dnsjava and dig each get REFUSED (within the TCP connection caps, TcpLimitsTest).
        Message overTcp = dns.client(true, "127.0.0.9").send(Harness.newQuery("www.example.org", Type.A));
        assertThat(overTcp.getRcode()).isEqualTo(Rcode.REFUSED);
        assertThat(overTcp.getSection(Section.ANSWER)).isEmpty();
        Dig.Result dig = Dig.query(dns.port(), "tcp.example.org", "A", "+tcp", "-b", "127.0.0.9");
        assertThat(dig.status()).isEqualTo("REFUSED");
        assertThat(dig.answers()).isEmpty();
        Dig.Result digUdp = Dig.query(dns.port(), "tcp.example.org", "A", "+notcp", "-b", "127.0.0.9");
        assertThat(digUdp.status()).isEqualTo("REFUSED");
        for (String name : List.of("www.example.org", "tcp.example.org")) {
            assertThat(dns.listener.queries).filteredOn(q -> q.qname().equals(name)
                    && q.client().getAddress().getHostAddress().equals("127.0.0.9"))
                    .isNotEmpty().allSatisfy(q -> {
                        assertThat(q.decision().reason()).isEqualTo(Reason.UNKNOWN_CLIENT);
                        assertThat(q.rcode()).isEqualTo("REFUSED");
                    });
        }
    }

    @Test
    void otherServersGetTheirOwnAllowlist() throws IOException {
        // 127.0.0.2 is server "other" (report mode): api.example.com is not on its list, so
        // report mode lets it through with would_deny.
        Message answer = dns.client(false, "127.0.0.2").send(Harness.newQuery("api.example.com", Type.A));
        assertThat(answer.getRcode()).isEqualTo(Rcode.NOERROR);
        RecordingListener.Query reported = dns.listener.queries.stream()
                .filter(q -> q.client().getAddress().getHostAddress().equals("127.0.0.2")).findFirst().orElseThrow();
        assertThat(reported.decision().server()).isEqualTo("other");
        assertThat(reported.decision().wouldDeny()).isTrue();
        assertThat(reported.decision().allowed()).isTrue();
    }

    @Test
    void reportModeForwardsUnlistedNamesUpstreamButNotGlobalDenies() throws Exception {
        // By design (docs/config.md): report mode lets a DNS query for an unlisted name out, so it
        // is an exfiltration channel; the always-denied names and ANY still stay local.
        org.xbill.DNS.SimpleResolver other = dns.client(false, "127.0.0.2");
        Message leaked = other.send(Harness.newQuery("c2VjcmV0.report.attacker.example", Type.TXT));
        assertThat(leaked.getRcode()).as("the upstream's own answer").isEqualTo(Rcode.NXDOMAIN);
        assertThat(dns.upstream.queriesFor("c2vjcmv0.report.attacker.example")).isEqualTo(1);
        RecordingListener.Query reported = dns.listener.last("c2VjcmV0.report.attacker.example");
        assertThat(reported.decision().allowed()).isTrue();
        assertThat(reported.decision().wouldDeny()).isTrue();
        assertThat(reported.decision().reason()).isEqualTo(Reason.HOST_NOT_ALLOWED);

        assertThat(other.send(Harness.newQuery("report.localhost", Type.A)).getRcode()).isEqualTo(Rcode.NXDOMAIN);
        assertThat(other.send(Harness.newQuery("any.attacker.example", Type.ANY)).getRcode())
                .isEqualTo(Rcode.REFUSED);
        assertThat(dns.upstream.queriesFor("report.localhost")).isZero();
        assertThat(dns.upstream.queriesFor("any.attacker.example")).isZero();
    }

    @Test
    void answersEchoIdAndQuestionAndSetQrRdRaAndOptOnlyWhenSent() throws IOException {
        Message query = Harness.newQuery("WwW.ExAmPlE.oRg", Type.A);
        query.getHeader().setID(4242);
        Message plain = new Message(RawClient.udp(dns.port(), query.toWire()));
        assertThat(plain.getHeader().getID()).isEqualTo(4242);
        assertThat(plain.getQuestion()).isEqualTo(query.getQuestion());
        assertThat(plain.getQuestion().getName().toString()).isEqualTo("WwW.ExAmPlE.oRg.");
        assertThat(plain.getHeader().getFlag(Flags.QR)).isTrue();
        assertThat(plain.getHeader().getFlag(Flags.RD)).isTrue();
        assertThat(plain.getHeader().getFlag(Flags.RA)).isTrue();
        assertThat(plain.getOPT()).isNull();

        query.addRecord(new org.xbill.DNS.OPTRecord(1232, 0, 0), Section.ADDITIONAL);
        Message edns = new Message(RawClient.udp(dns.port(), query.toWire()));
        assertThat(edns.getOPT()).isNotNull();
        assertThat(edns.getOPT().getVersion()).isZero();

        Message denied = Harness.newQuery("nope.attacker.example", Type.A);
        denied.getHeader().setID(777);
        denied.getHeader().unsetFlag(Flags.RD);
        Message refusal = new Message(RawClient.tcp(dns.port(), denied.toWire()));
        assertThat(refusal.getHeader().getID()).isEqualTo(777);
        assertThat(refusal.getQuestion()).isEqualTo(denied.getQuestion());
        assertThat(refusal.getHeader().getFlag(Flags.QR)).isTrue();
        assertThat(refusal.getHeader().getFlag(Flags.RD)).isFalse();
        assertThat(refusal.getHeader().getFlag(Flags.RA)).isTrue();
        assertThat(refusal.getOPT()).isNull();
    }

    @Test
    void upstreamGetsAFreshQueryNotTheClientsBytes() throws IOException {
        for (int i = 0; i < 3; i++) {
            Message query = Harness.newQuery("fresh" + i + ".example.org", Type.A);
            query.getHeader().setID(4242);
            query.getHeader().setFlag(Flags.CD);
            query.addRecord(new org.xbill.DNS.OPTRecord(1232, 0, 0, 0,
                    new org.xbill.DNS.GenericEDNSOption(65001, new byte[] {1, 2, 3})), Section.ADDITIONAL);
            RawClient.udp(dns.port(), query.toWire());
        }
        List<Message> sent = dns.upstream.received().stream()
                .filter(m -> m.getQuestion().getName().toString().startsWith("fresh")).toList();
        assertThat(sent).hasSize(3);
        // Every upstream query carries an ID of our own: not one reuses the client's.
        assertThat(sent).extracting(m -> m.getHeader().getID()).as("upstream IDs").doesNotContain(4242);
        for (Message m : sent) {
            assertThat(m.getHeader().getFlag(Flags.CD)).isFalse();
            assertThat(m.getOPT().getOptions(65001)).as("no client EDNS option is passed on").isEmpty();
            assertThat(m.getQuestion().getName().toString()).isEqualTo(m.getQuestion().getName().toString()
                    .toLowerCase(java.util.Locale.ROOT));
        }
    }

    @Test
    void pipelinedTcpQueriesOnOneConnectionAreAllAnswered() throws IOException {
        Map<Integer, String> expected = new HashMap<>();
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), dns.port())) {
            socket.setSoTimeout(10_000);
            DataOutputStream out = new DataOutputStream(socket.getOutputStream());
            java.io.ByteArrayOutputStream batch = new java.io.ByteArrayOutputStream();
            DataOutputStream frames = new DataOutputStream(batch);
            for (int i = 0; i < 20; i++) {
                Message query = Harness.newQuery("p" + i + ".example.org", Type.A);
                query.getHeader().setID(1000 + i);
                byte[] wire = query.toWire();
                frames.writeShort(wire.length);
                frames.write(wire);
                expected.put(1000 + i, "93.184.216." + i);
            }
            for (int i = 0; i < 5; i++) {
                Message query = Harness.newQuery("pipe" + i + ".attacker.example", Type.A);
                query.getHeader().setID(2000 + i);
                byte[] wire = query.toWire();
                frames.writeShort(wire.length);
                frames.write(wire);
                expected.put(2000 + i, "NXDOMAIN");
            }
            out.write(batch.toByteArray());
            out.flush();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            Map<Integer, String> got = new HashMap<>();
            for (int i = 0; i < expected.size(); i++) {
                byte[] wire = new byte[in.readUnsignedShort()];
                in.readFully(wire);
                Message answer = new Message(wire);
                List<Record> records = answer.getSection(Section.ANSWER);
                got.put(answer.getHeader().getID(), answer.getRcode() == Rcode.NXDOMAIN ? "NXDOMAIN"
                        : ((ARecord) records.get(0)).getAddress().getHostAddress());
            }
            assertThat(got).isEqualTo(expected);
        }
    }
}
