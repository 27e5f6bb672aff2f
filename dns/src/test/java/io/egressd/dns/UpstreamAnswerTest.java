package io.egressd.dns;

import static io.egressd.dns.TestUpstream.a;
import static io.egressd.dns.TestUpstream.cname;
import static io.egressd.dns.TestUpstream.name;
import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.NSRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/** What is kept of an upstream answer, and for how long (RFC 2308). */
class UpstreamAnswerTest {

    private static Message response(int rcode, Record... answers) {
        Message m = new Message(1);
        m.getHeader().setRcode(rcode);
        m.addRecord(Record.newRecord(name("q.example.org"), Type.A, DClass.IN), Section.QUESTION);
        for (Record r : answers) {
            m.addRecord(r, Section.ANSWER);
        }
        return m;
    }

    private static SOARecord soa(long ttl, long minimum) {
        return new SOARecord(name("example.org"), DClass.IN, ttl, name("ns.example.org"), name("h.example.org"),
                1, 3600, 600, 86400, minimum);
    }

    @Test
    void keepsOnlyTheChainFromTheQuestionAndRecordsOfTheAskedType() {
        Message m = response(Rcode.NOERROR,
                cname("q.example.org", 300, "mid.example.net"),
                a("unrelated.example.com", 300, "93.184.215.30"),
                cname("mid.example.net", 300, "end.example.net"),
                a("end.example.net", 300, "93.184.215.31"));
        m.addRecord(new NSRecord(name("example.net"), DClass.IN, 300, name("ns.example.net")), Section.AUTHORITY);
        m.addRecord(a("ns.example.net", 300, "10.0.0.1"), Section.ADDITIONAL);
        UpstreamAnswer answer = UpstreamAnswer.of(m, name("q.example.org"), Type.A, 0);
        assertThat(answer.answers()).extracting(r -> r.getName().toString() + " " + Type.string(r.getType()))
                .containsExactly("q.example.org. CNAME", "mid.example.net. CNAME", "end.example.net. A");
        assertThat(answer.authority()).isEmpty();
        assertThat(answer.ttlSeconds()).isEqualTo(300);
    }

    @Test
    void aCnameLoopEnds() {
        Message m = response(Rcode.NOERROR, cname("q.example.org", 300, "b.example.org"),
                cname("b.example.org", 300, "q.example.org"));
        assertThat(UpstreamAnswer.of(m, name("q.example.org"), Type.A, 0).answers()).hasSize(2);
    }

    @Test
    void negativeTtlIsTheSmallerOfSoaTtlAndMinimumAndIsCapped() {
        Message m = response(Rcode.NXDOMAIN);
        m.addRecord(soa(900, 120), Section.AUTHORITY);
        UpstreamAnswer answer = UpstreamAnswer.of(m, name("q.example.org"), Type.A, 0);
        assertThat(answer.ttlSeconds()).isEqualTo(120);
        assertThat(answer.authority()).singleElement().satisfies(r -> assertThat(r.getTTL()).isEqualTo(120));
        assertThat(answer.cacheable()).isTrue();

        Message longOne = response(Rcode.NXDOMAIN);
        longOne.addRecord(soa(604800, 604800), Section.AUTHORITY);
        assertThat(UpstreamAnswer.of(longOne, name("q.example.org"), Type.A, 0).ttlSeconds())
                .isEqualTo(UpstreamAnswer.MAX_NEGATIVE_TTL);
    }

    @Test
    void negativeAnswersWithoutSoaAreNotCached() {
        assertThat(UpstreamAnswer.of(response(Rcode.NXDOMAIN), name("q.example.org"), Type.A, 0).cacheable()).isFalse();
        assertThat(UpstreamAnswer.of(response(Rcode.NOERROR), name("q.example.org"), Type.A, 0).cacheable()).isFalse();
    }

    @Test
    void zeroTtlIsNotCachedAndHugeTtlIsCapped() {
        assertThat(UpstreamAnswer.of(response(Rcode.NOERROR, a("q.example.org", 0, "93.184.215.32")),
                name("q.example.org"), Type.A, 0).cacheable()).isFalse();
        assertThat(UpstreamAnswer.of(response(Rcode.NOERROR, a("q.example.org", 2_000_000, "93.184.215.32")),
                name("q.example.org"), Type.A, 0).ttlSeconds()).isEqualTo(UpstreamAnswer.MAX_TTL);
    }
}
