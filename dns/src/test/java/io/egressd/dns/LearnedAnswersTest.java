package io.egressd.dns;

import static io.egressd.dns.TestUpstream.a;
import static io.egressd.dns.TestUpstream.aaaa;
import static io.egressd.dns.TestUpstream.cname;
import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.policy.LearnedAddresses;
import java.net.InetAddress;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.Type;

/**
 * What the filter records for the SOCKS5 front: exactly the addresses a server was answered,
 * after filtering, under the name it asked for, for as long as the answer's (aged) TTL.
 */
class LearnedAnswersTest {

    private final FakeClock clock = new FakeClock();
    private final LearnedAddresses learned = new LearnedAddresses(100, clock);
    private Harness dns;

    @BeforeEach
    void start(@TempDir Path allowlists) throws Exception {
        dns = Harness.start(allowlists, s -> s, clock, learned);
    }

    @AfterEach
    void stop() {
        dns.close();
    }

    private static InetAddress ip(String literal) throws Exception {
        return InetAddress.getByName(literal);
    }

    @Test
    void theAnsweredAddressesAreRecordedForTheAskingServerAndName() throws Exception {
        dns.upstream.answer("db.example.com", Type.A, a("db.example.com", 60, "10.9.1.1"),
                a("db.example.com", 60, "127.0.0.1"), a("db.example.com", 60, "169.254.169.254"));
        dns.query("db.example.com", Type.A, false);
        assertThat(learned.names("app", ip("10.9.1.1"))).containsExactly("db.example.com");
        // Filtered out of the answer, so never learned.
        assertThat(learned.names("app", ip("127.0.0.1"))).isEmpty();
        assertThat(learned.names("app", ip("169.254.169.254"))).isEmpty();
        assertThat(learned.names("other", ip("10.9.1.1"))).isEmpty();
    }

    @Test
    void aCnameChainIsRecordedUnderTheNameAsked() throws Exception {
        dns.upstream.answer("www.example.org", Type.AAAA, cname("www.example.org", 60, "edge.cdn.example"),
                aaaa("edge.cdn.example", 60, "2606:4700::1111"));
        dns.query("www.example.org", Type.AAAA, true);
        assertThat(learned.names("app", ip("2606:4700::1111"))).containsExactly("www.example.org");
    }

    @Test
    void refusedNamesTeachNothing() throws Exception {
        dns.upstream.answer("evil.example.net", Type.A, a("evil.example.net", 60, "93.184.215.40"));
        dns.query("evil.example.net", Type.A, false);
        assertThat(learned.size()).isZero();
        assertThat(dns.upstream.queries()).isZero();
    }

    @Test
    void aCachedAnswerTeachesItsRemainingTtl() throws Exception {
        dns.upstream.answer("api.example.com", Type.A, a("api.example.com", 30, "93.184.215.40"));
        dns.query("api.example.com", Type.A, false);
        clock.advance(Duration.ofSeconds(20));
        // Served from the cache with 10 s left; the store keeps the later expiry of the two, which is the same.
        dns.query("api.example.com", Type.A, false);
        assertThat(dns.upstream.queries()).isEqualTo(1);
        clock.advance(Duration.ofSeconds(9));
        assertThat(learned.names("app", ip("93.184.215.40"))).containsExactly("api.example.com");
        clock.advance(Duration.ofSeconds(1));
        assertThat(learned.names("app", ip("93.184.215.40"))).isEmpty();
    }
}
