package io.egressd.dns;

import static io.egressd.dns.TestUpstream.a;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * Issue 9, item 2: every upstream dead, refusing (a closed port) or silent (a loopback server that
 * never answers). Each query that needs an upstream gets SERVFAIL within the configured timeout,
 * over UDP and TCP, and meanwhile cached names keep being answered at once.
 */
class DeadUpstreamsTest {

    static final Duration TIMEOUT = Duration.ofSeconds(1);

    @TempDir
    Path dir;

    /** A UDP port on 127.0.0.1 nothing listens on: queries to it are refused (ICMP port unreachable). */
    static InetSocketAddress closedPort() {
        try (DatagramSocket s = new DatagramSocket(new InetSocketAddress(TestUpstream.LOOPBACK, 0))) {
            return (InetSocketAddress) s.getLocalSocketAddress();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static DnsSettings with(DnsSettings s, List<InetSocketAddress> upstreams) {
        return new DnsSettings(s.listen(), s.boundServer(), upstreams, TIMEOUT, s.denyRcode(), s.cacheMaxEntries());
    }

    @Test
    void everyUpstreamRefusingGivesServfailWithinTheTimeoutOverUdpAndTcp() throws Exception {
        List<InetSocketAddress> refusing = List.of(closedPort(), closedPort());
        try (Harness dns = Harness.start(dir, s -> with(s, refusing), System::nanoTime)) {
            for (boolean tcp : new boolean[] {false, true}) {
                long start = System.nanoTime();
                Message answer = dns.query("api.example.com", Type.A, tcp);
                Duration took = Duration.ofNanos(System.nanoTime() - start);

                assertThat(answer.getRcode()).as("tcp: %s", tcp).isEqualTo(Rcode.SERVFAIL);
                assertThat(took).as("tcp: %s", tcp).isLessThan(TIMEOUT.plusMillis(700));
            }
            assertThat(dns.listener.last("api.example.com").rcode()).isEqualTo("SERVFAIL");
        }
    }

    @Test
    void everyUpstreamRefusingOrSilentGivesServfailWhileCachedNamesAnswerAtOnce() throws Exception {
        InetSocketAddress refusing = closedPort();
        try (Harness dns = Harness.start(dir, s -> with(s, List.of(refusing, s.upstreams().get(0))),
                System::nanoTime)) {
            dns.upstream.answer("warm.example.org", Type.A, a("warm.example.org", 300, "93.184.215.60"));
            assertThat(dns.query("warm.example.org", Type.A, false).getRcode()).isEqualTo(Rcode.NOERROR);
            dns.upstream.silent(true); // now one upstream refuses and the other never answers

            long start = System.nanoTime();
            List<CompletableFuture<Message>> cold = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                cold.add(dns.client(i % 2 == 1).sendAsync(Harness.newQuery("cold" + i + ".example.org", Type.A))
                        .toCompletableFuture());
            }
            int served = 0;
            while (!cold.stream().allMatch(CompletableFuture::isDone)) {
                long before = System.nanoTime();
                Message warm = dns.query("warm.example.org", Type.A, served % 2 == 1);
                assertThat(warm.getRcode()).isEqualTo(Rcode.NOERROR);
                assertThat(warm.getSection(Section.ANSWER)).hasSize(1);
                assertThat(Duration.ofNanos(System.nanoTime() - before)).as("a cached answer while upstreams are dead")
                        .isLessThan(Duration.ofMillis(500));
                served++;
            }
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            for (CompletableFuture<Message> c : cold) {
                assertThat(c.get(5, TimeUnit.SECONDS).getRcode()).isEqualTo(Rcode.SERVFAIL);
            }
            assertThat(took).as("all six within the timeout").isLessThan(TIMEOUT.plusMillis(700));
            assertThat(served).as("cached answers served meanwhile").isGreaterThan(5);
        }
    }
}
