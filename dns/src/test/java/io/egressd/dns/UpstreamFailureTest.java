package io.egressd.dns;

import static io.egressd.dns.TestUpstream.a;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/** A dead upstream costs the query that needs it a SERVFAIL within the timeout, and nothing else. */
class UpstreamFailureTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(1);

    private static DnsSettings timeout(DnsSettings s, List<java.net.InetSocketAddress> upstreams) {
        return new DnsSettings(s.listen(), s.boundServer(), upstreams, TIMEOUT, s.denyRcode(), s.cacheMaxEntries());
    }

    @Test
    void deadUpstreamGivesServfailWithinTheTimeoutWhileCachedNamesKeepFlowing(@TempDir Path dir) throws Exception {
        try (Harness dns = Harness.start(dir, s -> timeout(s, s.upstreams()), System::nanoTime)) {
            dns.upstream.answer("warm.example.org", Type.A, a("warm.example.org", 300, "93.184.215.50"));
            assertThat(dns.query("warm.example.org", Type.A, false).getRcode()).isEqualTo(Rcode.NOERROR);
            dns.upstream.silent(true);

            long start = System.nanoTime();
            CompletableFuture<Message> cold = dns.client(false)
                    .sendAsync(Harness.newQuery("cold.example.org", Type.A)).toCompletableFuture();
            // The same question from other clients meanwhile joins the one upstream exchange.
            List<CompletableFuture<Message>> joined = new java.util.ArrayList<>();
            for (int i = 0; i < 4; i++) {
                joined.add(dns.client(i % 2 == 1).sendAsync(Harness.newQuery("cold.example.org", Type.A))
                        .toCompletableFuture());
            }
            int served = 0;
            while (!cold.isDone()) {
                long before = System.nanoTime();
                Message warm = dns.query("warm.example.org", Type.A, served % 2 == 1);
                assertThat(warm.getRcode()).isEqualTo(Rcode.NOERROR);
                assertThat(warm.getSection(Section.ANSWER)).hasSize(1);
                assertThat(Duration.ofNanos(System.nanoTime() - before)).isLessThan(Duration.ofMillis(500));
                served++;
            }
            Message failed = cold.get(5, TimeUnit.SECONDS);
            Duration took = Duration.ofNanos(System.nanoTime() - start);

            assertThat(failed.getRcode()).isEqualTo(Rcode.SERVFAIL);
            assertThat(took).isGreaterThanOrEqualTo(TIMEOUT.minusMillis(100)).isLessThan(TIMEOUT.plusMillis(700));
            assertThat(served).as("cached answers served while the upstream was dead").isGreaterThan(5);
            for (CompletableFuture<Message> other : joined) {
                assertThat(other.get(5, TimeUnit.SECONDS).getRcode()).isEqualTo(Rcode.SERVFAIL);
            }
            assertThat(dns.upstream.queriesFor("cold.example.org")).as("one upstream query for five clients")
                    .isEqualTo(1);
            assertThat(dns.listener.last("cold.example.org").rcode()).isEqualTo("SERVFAIL");
            assertThat(dns.listener.last("cold.example.org").decision().allowed()).isTrue();

            // SERVFAIL is not cached: once the upstream is back, so is the answer.
            dns.upstream.silent(false);
            dns.upstream.answer("cold.example.org", Type.A, a("cold.example.org", 300, "93.184.215.51"));
            assertThat(dns.query("cold.example.org", Type.A, false).getRcode()).isEqualTo(Rcode.NOERROR);
        }
    }

    @Test
    void aDeadFirstUpstreamFailsOverToTheNextAndIsThenAvoided(@TempDir Path dir) throws Exception {
        try (TestUpstream dead = TestUpstream.start()) {
            dead.silent(true);
            try (Harness dns = Harness.start(dir,
                    s -> timeout(s, List.of(dead.address(), s.upstreams().get(0))), System::nanoTime)) {
                dns.upstream.answer("one.example.org", Type.A, a("one.example.org", 300, "93.184.215.52"))
                        .answer("two.example.org", Type.A, a("two.example.org", 300, "93.184.215.53"));

                Message one = dns.query("one.example.org", Type.A, false);
                assertThat(one.getRcode()).isEqualTo(Rcode.NOERROR);
                assertThat(one.getSection(Section.ANSWER)).hasSize(1);
                assertThat(dead.queriesFor("one.example.org")).isEqualTo(1);
                assertThat(dns.upstream.queriesFor("one.example.org")).isEqualTo(1);

                long start = System.nanoTime();
                Message two = dns.query("two.example.org", Type.A, true);
                assertThat(two.getSection(Section.ANSWER)).hasSize(1);
                assertThat(Duration.ofNanos(System.nanoTime() - start)).as("no second wait on the dead one")
                        .isLessThan(Duration.ofMillis(400));
                assertThat(dead.queriesFor("two.example.org")).isZero();
            }
        }
    }
}
