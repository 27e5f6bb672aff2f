package io.egressd.dns;

import static io.egressd.dns.TestUpstream.a;
import static io.egressd.dns.TestUpstream.cname;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/** Answers are cached by name, type and class; TTLs count down as they are served; RFC 2308 for negatives. */
class CacheTest {

    @TempDir
    static Path allowlists;
    static final FakeClock clock = new FakeClock();
    static Harness dns;

    @BeforeAll
    static void start() throws Exception {
        dns = Harness.start(allowlists, s -> s, clock);
    }

    @AfterAll
    static void stop() {
        dns.close();
    }

    @Test
    void secondQueryIsServedFromCacheWithALowerTtl() throws Exception {
        dns.upstream.answer("cached.example.org", Type.A, a("cached.example.org", 300, "93.184.215.20"));
        Message first = dns.query("cached.example.org", Type.A, false);
        assertThat(first.getSection(Section.ANSWER).get(0).getTTL()).isEqualTo(300);
        assertThat(dns.upstream.queriesFor("cached.example.org")).isEqualTo(1);

        clock.advance(Duration.ofSeconds(100));
        Message second = dns.query("cached.example.org", Type.A, true);
        assertThat(dns.upstream.queriesFor("cached.example.org")).as("second query stays local").isEqualTo(1);
        assertThat(second.getSection(Section.ANSWER)).singleElement().satisfies(r -> assertThat(r.getTTL()).isEqualTo(200));

        // Case and a trailing dot do not make a different cache entry; dig sees the lower TTL too.
        clock.advance(Duration.ofSeconds(50));
        Dig.Result dig = Dig.query(dns.port(), "CACHED.Example.ORG.", "A", "+notcp");
        assertThat(dig.answers()).singleElement().asString().contains("\t150\t", "93.184.215.20");
        assertThat(dns.upstream.queriesFor("cached.example.org")).isEqualTo(1);
    }

    @Test
    void typesAreCachedSeparately() throws Exception {
        dns.upstream.answer("typed.example.org", Type.A, a("typed.example.org", 300, "93.184.215.21"));
        dns.query("typed.example.org", Type.A, false);
        dns.query("typed.example.org", Type.TXT, false);
        dns.query("typed.example.org", Type.TXT, false);
        assertThat(dns.upstream.queriesFor("typed.example.org")).isEqualTo(2);
    }

    @Test
    void expiredAnswersAreFetchedAgain() throws Exception {
        dns.upstream.answer("short.example.org", Type.A, a("short.example.org", 30, "93.184.215.22"));
        dns.query("short.example.org", Type.A, false);
        clock.advance(Duration.ofSeconds(31));
        Message again = dns.query("short.example.org", Type.A, false);
        assertThat(dns.upstream.queriesFor("short.example.org")).isEqualTo(2);
        assertThat(again.getSection(Section.ANSWER).get(0).getTTL()).isEqualTo(30);
    }

    @Test
    void aChainIsCachedWithItsShortestTtl() throws Exception {
        dns.upstream.answer("chain.example.org", Type.A, cname("chain.example.org", 20, "edge.cdn.example.net"),
                a("edge.cdn.example.net", 600, "93.184.215.23"));
        dns.query("chain.example.org", Type.A, false);
        clock.advance(Duration.ofSeconds(10));
        Message cached = dns.query("chain.example.org", Type.A, false);
        assertThat(cached.getSection(Section.ANSWER)).extracting(Record::getTTL).containsExactly(10L, 590L);
        clock.advance(Duration.ofSeconds(11));
        dns.query("chain.example.org", Type.A, false);
        assertThat(dns.upstream.queriesFor("chain.example.org")).isEqualTo(2);
    }

    @Test
    void nxdomainIsCachedForTheSoaMinimum() throws Exception {
        dns.upstream.negativeTtl(60);
        Message first = dns.query("missing.example.org", Type.A, false);
        assertThat(first.getRcode()).isEqualTo(Rcode.NXDOMAIN);
        assertThat(first.getSection(Section.AUTHORITY)).singleElement().isInstanceOf(SOARecord.class);

        clock.advance(Duration.ofSeconds(45));
        Message second = dns.query("missing.example.org", Type.A, false);
        assertThat(second.getRcode()).isEqualTo(Rcode.NXDOMAIN);
        assertThat(second.getSection(Section.AUTHORITY)).singleElement()
                .satisfies(r -> assertThat(r.getTTL()).isEqualTo(15));
        assertThat(dns.upstream.queriesFor("missing.example.org")).isEqualTo(1);

        clock.advance(Duration.ofSeconds(16));
        dns.query("missing.example.org", Type.A, false);
        assertThat(dns.upstream.queriesFor("missing.example.org")).isEqualTo(2);
    }

    @Test
    void noDataIsCachedAsANegativeAnswer() throws Exception {
        dns.upstream.answer("v4only.example.org", Type.A, a("v4only.example.org", 300, "93.184.215.24"));
        Message first = dns.query("v4only.example.org", Type.AAAA, false);
        assertThat(first.getRcode()).isEqualTo(Rcode.NOERROR);
        assertThat(first.getSection(Section.ANSWER)).isEmpty();
        dns.query("v4only.example.org", Type.AAAA, false);
        assertThat(dns.upstream.received().stream()
                .filter(m -> m.getQuestion().getName().toString().equals("v4only.example.org.")
                        && m.getQuestion().getType() == Type.AAAA)).hasSize(1);
    }

    @Test
    void theCacheIsBoundedInEntries() {
        AnswerCache cache = new AnswerCache(3, clock);
        UpstreamAnswer answer = new UpstreamAnswer(Rcode.NOERROR,
                List.of(a("x.example.org", 300, "93.184.215.25")), List.of(), 300, clock.getAsLong());
        for (int i = 0; i < 10; i++) {
            cache.put(new QuestionKey("n" + i + ".example.org", Type.A, 1), answer);
            assertThat(cache.size()).isLessThanOrEqualTo(3);
        }
        assertThat(cache.get(new QuestionKey("n0.example.org", Type.A, 1))).isNull();
        assertThat(cache.get(new QuestionKey("n9.example.org", Type.A, 1))).isSameAs(answer);
    }

    @Test
    void aZeroSizeCacheKeepsNothing() {
        AnswerCache cache = new AnswerCache(0, clock);
        UpstreamAnswer answer = new UpstreamAnswer(Rcode.NOERROR,
                List.of(a("x.example.org", 300, "93.184.215.25")), List.of(), 300, clock.getAsLong());
        cache.put(new QuestionKey("x.example.org", Type.A, 1), answer);
        assertThat(cache.get(new QuestionKey("x.example.org", Type.A, 1))).isNull();
    }

    @Test
    void theCacheIsBoundedInBytesAndSkipsHugeAnswers() {
        long maxBytes = 4096;
        AnswerCache cache = new AnswerCache(10_000, maxBytes, 1024, clock);
        // ~63 KB of TXT, the review's flood: served, never cached.
        String[] chunks = new String[250];
        java.util.Arrays.fill(chunks, "x".repeat(250));
        UpstreamAnswer huge = new UpstreamAnswer(Rcode.NOERROR,
                List.of(TestUpstream.txt("big.example.org", 300, chunks)), List.of(), 300, clock.getAsLong());
        QuestionKey hugeKey = new QuestionKey("big.example.org", Type.TXT, 1);
        cache.put(hugeKey, huge);
        assertThat(cache.get(hugeKey)).isNull();
        assertThat(cache.bytes()).isZero();

        UpstreamAnswer small = new UpstreamAnswer(Rcode.NOERROR,
                List.of(TestUpstream.txt("t.example.org", 300, "y".repeat(200))), List.of(), 300, clock.getAsLong());
        for (int i = 0; i < 100; i++) {
            cache.put(new QuestionKey("n" + i + ".example.org", Type.TXT, 1), small);
            assertThat(cache.bytes()).isBetween(1L, maxBytes);
        }
        assertThat(cache.size()).isLessThan(100);
        assertThat(cache.get(new QuestionKey("n0.example.org", Type.TXT, 1))).isNull();
        assertThat(cache.get(new QuestionKey("n99.example.org", Type.TXT, 1))).isSameAs(small);
    }

    @Test
    void theDefaultCacheKeepsNoAnswerOver16KiB() {
        AnswerCache cache = new AnswerCache(10_000, clock);
        String[] chunks = new String[70];
        java.util.Arrays.fill(chunks, "z".repeat(250)); // ~17.5 KB
        UpstreamAnswer big = new UpstreamAnswer(Rcode.NOERROR,
                List.of(TestUpstream.txt("b.example.org", 300, chunks)), List.of(), 300, clock.getAsLong());
        QuestionKey key = new QuestionKey("b.example.org", Type.TXT, 1);
        cache.put(key, big);
        assertThat(cache.get(key)).isNull();
        assertThat(DnsSettings.of(new java.net.InetSocketAddress(TestUpstream.LOOPBACK, 0),
                List.of(new java.net.InetSocketAddress(TestUpstream.LOOPBACK, 53))).cacheMaxBytes())
                .isEqualTo(32L << 20);
    }
}
