package io.egressd.dns;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.Type;

/** A TXT answer too large for UDP: truncated with TC over UDP, complete over TCP. */
class TruncationTest {

    private static final int RECORDS = 12;

    @TempDir
    static Path allowlists;
    static Harness dns;
    static List<Record> big = new ArrayList<>();

    @BeforeAll
    static void start() throws Exception {
        dns = Harness.start(allowlists);
        for (int i = 0; i < RECORDS; i++) {
            String chunk = String.valueOf((char) ('a' + i)).repeat(200);
            big.add(TestUpstream.txt("big.example.org", 300, "part" + i, chunk, chunk));
        }
        dns.upstream.answer("big.example.org", Type.TXT, big.toArray(Record[]::new));
        List<Record> medium = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            medium.add(TestUpstream.txt("medium.example.org", 300, String.valueOf(i).repeat(180)));
        }
        dns.upstream.answer("medium.example.org", Type.TXT, medium.toArray(Record[]::new));
        dns.upstream.answer("three.example.org", Type.TXT, medium.subList(0, 3).stream()
                .map(r -> TestUpstream.txt("three.example.org", 300, ((TXTRecord) r).getStrings().get(0)))
                .toArray(Record[]::new));
    }

    @AfterAll
    static void stop() {
        dns.close();
    }

    @Test
    void digOverUdpSeesTcAndOverTcpTheWholeAnswer() throws Exception {
        Dig.Result udp = Dig.query(dns.port(), "big.example.org", "TXT", "+notcp", "+ignore", "+bufsize=1232");
        assertThat(udp.flags()).contains("qr", "tc");
        assertThat(udp.answers().size()).isLessThan(RECORDS);

        Dig.Result tcp = Dig.query(dns.port(), "big.example.org", "TXT", "+tcp");
        assertThat(tcp.flags()).doesNotContain("tc");
        assertThat(tcp.answers()).hasSize(RECORDS);
    }

    @Test
    void udpAnswersFitThePayloadSizeTheClientOffers() throws Exception {
        // About 800 bytes: too big for classic DNS, small enough for EDNS.
        Message plain = Harness.newQuery("medium.example.org", Type.TXT);
        byte[] classic = RawClient.udp(dns.port(), plain.toWire());
        assertThat(classic.length).isLessThanOrEqualTo(512);
        assertThat(new Message(classic).getHeader().getFlag(Flags.TC)).isTrue();

        Message edns = Harness.newQuery("medium.example.org", Type.TXT);
        edns.addRecord(new OPTRecord(1232, 0, 0), Section.ADDITIONAL);
        Message whole = new Message(RawClient.udp(dns.port(), edns.toWire()));
        assertThat(whole.getHeader().getFlag(Flags.TC)).isFalse();
        assertThat(whole.getSection(Section.ANSWER)).hasSize(4);

        // A client offering 4096 still gets at most 1232 bytes: big answers move to TCP, not to fragments.
        Message greedy = Harness.newQuery("big.example.org", Type.TXT);
        greedy.addRecord(new OPTRecord(4096, 0, 0), Section.ADDITIONAL);
        byte[] large = RawClient.udp(dns.port(), greedy.toWire());
        assertThat(large.length).isLessThanOrEqualTo(1232);
        Message truncated = new Message(large);
        assertThat(truncated.getHeader().getFlag(Flags.TC)).isTrue();
        assertThat(truncated.getOPT()).as("the OPT record survives truncation").isNotNull();
    }

    @Test
    void aPayloadSizeBetween512And1232IsTheLimit() throws Exception {
        // medium.example.org's answer is about 820 bytes: over 700 (whole at 1232, above).
        byte[] wire = RawClient.udp(dns.port(), offering(700, "medium.example.org").toWire());
        assertThat(wire.length).isLessThanOrEqualTo(700);
        Message cut = new Message(wire);
        assertThat(cut.getHeader().getFlag(Flags.TC)).isTrue();
        assertThat(cut.getOPT()).isNotNull();

        // About 630 bytes: over 512 but within 700, so it comes whole.
        byte[] fits = RawClient.udp(dns.port(), offering(700, "three.example.org").toWire());
        assertThat(fits.length).isBetween(513, 700);
        Message whole = new Message(fits);
        assertThat(whole.getHeader().getFlag(Flags.TC)).isFalse();
        assertThat(whole.getSection(Section.ANSWER)).hasSize(3);

        Dig.Result dig = Dig.query(dns.port(), "big.example.org", "TXT", "+notcp", "+ignore", "+bufsize=700");
        assertThat(dig.flags()).contains("qr", "tc");
        Matcher size = Pattern.compile("MSG SIZE +rcvd: (\\d+)").matcher(dig.output());
        assertThat(size.find()).as(dig.output()).isTrue();
        assertThat(Integer.parseInt(size.group(1))).isLessThanOrEqualTo(700);
    }

    private static Message offering(int payloadSize, String name) {
        Message query = Harness.newQuery(name, Type.TXT);
        query.addRecord(new OPTRecord(payloadSize, 0, 0), Section.ADDITIONAL);
        return query;
    }

    @Test
    void dnsjavaOverTcpGetsEveryRecord() throws Exception {
        SimpleResolver udp = dns.client(false);
        udp.setIgnoreTruncation(true);
        Message cut = udp.send(Harness.newQuery("big.example.org", Type.TXT));
        assertThat(cut.getHeader().getFlag(Flags.TC)).isTrue();

        Message full = dns.query("big.example.org", Type.TXT, true);
        assertThat(full.getHeader().getFlag(Flags.TC)).isFalse();
        assertThat(full.getSection(Section.ANSWER)).hasSize(RECORDS);
        assertThat(full.getSection(Section.ANSWER)).extracting(r -> ((TXTRecord) r).getStrings())
                .containsExactlyInAnyOrderElementsOf(big.stream().map(r -> ((TXTRecord) r).getStrings()).toList());
    }
}
