package io.egressd.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.metrics.Exposition;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * Issue 9 item 8: 60 seconds of mixed allowed and denied load on the real daemon process
 * (plain HTTP, CONNECT tunnels, DNS over UDP and TCP, each allowed and denied; loopback only:
 * the upstreams are test servers on 127.0.0.1 and the one DNS answer is 127.0.0.1), then its
 * file descriptors, threads and heap after a full GC are back where they were after a warm-up
 * of the same load. Every client connection is closed by the client, so whatever the daemon
 * still holds afterwards, it leaked.
 *
 * <p>Bounds: descriptors within +5 and threads within +2 of the baseline once the daemon is idle
 * (pools may settle a little differently); heap after GC within +8 MiB of the baseline. The load
 * makes tens of thousands of connections and queries, so a leak of even a few hundred bytes each
 * exceeds 8 MiB, while 8 MiB is well above what a full GC leaves varying between two idle moments
 * (class loading, JIT metadata stay outside the heap; the DNS cache and the metric label sets are
 * bounded and already filled by the warm-up).
 */
@ExtendWith(E2eExtension.class)
class SoakIT {

    static final Duration WARM_UP = Duration.ofSeconds(5);
    static final Duration SOAK = Duration.ofSeconds(60);
    static final int CLIENTS = 4;
    static final long HEAP_SLACK_BYTES = 8L << 20;

    @TempDir
    Path dir;
    HttpUpstream http;
    EchoUpstream echo;
    DnsUpstream dns;
    Egressd egressd;
    final AtomicLong operations = new AtomicLong();

    @BeforeEach
    void start() throws Exception {
        http = new HttpUpstream();
        echo = new EchoUpstream();
        dns = DnsUpstream.start().a("allowed.example.com", "127.0.0.1");
        Path allowlists = Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(allowlists.resolve("app.yaml"), """
                server: app
                clients:
                  sources: [127.0.0.1/32]
                allow:
                  - host: allowed.example.com
                  - cidr: 127.0.0.1/32
                    ports: [%d, %d]
                """.formatted(http.port(), echo.port()));
        egressd = Egressd.start(dir, Fixture.config(dns.address(), """
                  timeout: 2s
                audit:
                  output: audit.log
                  dns_allowed: true
                """));
    }

    @AfterEach
    void stop() throws Exception {
        Fixture.close(egressd, http, echo, dns);
    }

    record Usage(long fds, long threads, long heapBytes) { }

    /** The daemon's open descriptors and threads (from /proc) and its heap right after a full GC. */
    private Usage usage() throws Exception {
        long pid = egressd.pid();
        long fds;
        try (Stream<Path> open = Files.list(Path.of("/proc/" + pid + "/fd"))) {
            fds = open.count();
        }
        long threads = Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream()
                .filter(l -> l.startsWith("Threads:")).mapToLong(l -> Long.parseLong(l.substring(8).trim()))
                .findFirst().orElseThrow();
        Process gc = new ProcessBuilder("jcmd", Long.toString(pid), "GC.run").redirectErrorStream(true).start();
        String out = new String(gc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(gc.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(gc.exitValue()).as(out).isZero();
        double heap = Exposition.sum(egressd.scrape(), "jvm_memory_used_bytes", Map.of("area", "heap"));
        return new Usage(fds, threads, (long) heap);
    }

    /** Runs the mixed load on {@link #CLIENTS} threads for {@code length}. */
    private void load(Duration length) throws Exception {
        long end = System.nanoTime() + length.toNanos();
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
        List<Future<?>> running = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
            int first = c;
            running.add(pool.submit(() -> {
                for (int i = first; System.nanoTime() - end < 0; i++) {
                    step(i % 8);
                    operations.incrementAndGet();
                }
                return null;
            }));
        }
        try {
            for (Future<?> f : running) {
                f.get(length.toSeconds() + 60, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
    }

    private void step(int kind) throws IOException {
        switch (kind) {
            case 0 -> assertThat(httpGet(http.url("/soak"))).isEqualTo(200);
            case 1 -> assertThat(httpGet("http://denied.example.org/")).isEqualTo(403);
            case 2 -> tunnel(true);
            case 3 -> tunnel(false);
            case 4 -> assertThat(dns("allowed.example.com", false)).isEqualTo(Rcode.NOERROR);
            case 5 -> assertThat(dns("denied.example.org", false)).isEqualTo(Rcode.NXDOMAIN);
            case 6 -> assertThat(dns("allowed.example.com", true)).isEqualTo(Rcode.NOERROR);
            default -> assertThat(dns("denied.example.org", true)).isEqualTo(Rcode.NXDOMAIN);
        }
    }

    private int httpGet(String url) throws IOException {
        try (ProxyClient client = ProxyClient.open("127.0.0.1", egressd.proxyPort)) {
            return client.get(url).status();
        }
    }

    private void tunnel(boolean allowed) throws IOException {
        try (ProxyClient client = ProxyClient.open("127.0.0.1", egressd.proxyPort)) {
            if (!allowed) {
                assertThat(client.connect("denied.example.org:443").status()).isEqualTo(403);
                return;
            }
            assertThat(client.connect("127.0.0.1:" + echo.port()).status()).isEqualTo(200);
            byte[] payload = "soak payload through the tunnel\n".getBytes(StandardCharsets.US_ASCII);
            assertThat(client.echo(payload)).isEqualTo(payload);
        }
    }

    private int dns(String name, boolean tcp) throws IOException {
        SimpleResolver resolver = new SimpleResolver(new java.net.InetSocketAddress("127.0.0.1", egressd.dnsPort));
        resolver.setTimeout(Duration.ofSeconds(5));
        resolver.setTCP(tcp);
        Message answer = resolver.send(Message.newQuery(Record.newRecord(Name.fromString(name + "."), Type.A,
                DClass.IN)));
        return answer.getHeader().getRcode();
    }

    @Test
    void sixtySecondsOfMixedLoadLeaveDescriptorsThreadsAndHeapWhereTheyWere() throws Exception {
        load(WARM_UP);
        Thread.sleep(2000);
        Usage baseline = usage();
        long warmUpOperations = operations.getAndSet(0);

        load(SOAK);
        long soakOperations = operations.get();
        // Idle again: every client closed its connection; give the daemon's pools a moment to settle.
        Usage[] last = new Usage[1];
        await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofSeconds(2)).until(() -> {
            last[0] = usage();
            return last[0].fds() <= baseline.fds() + 5 && last[0].threads() <= baseline.threads() + 2
                    && last[0].heapBytes() <= baseline.heapBytes() + HEAP_SLACK_BYTES;
        });
        System.out.printf("soak: %d operations in the warm-up, %d in %ds; baseline %s, after %s%n",
                warmUpOperations, soakOperations, SOAK.toSeconds(), baseline, last[0]);
        assertThat(soakOperations).as("the load ran").isGreaterThan(1000);
        assertThat(last[0].fds()).isLessThanOrEqualTo(baseline.fds() + 5);
        assertThat(last[0].threads()).isLessThanOrEqualTo(baseline.threads() + 2);
        assertThat(last[0].heapBytes()).isLessThanOrEqualTo(baseline.heapBytes() + HEAP_SLACK_BYTES);
        assertThat(egressd.metric("egressd_connections_active")).isZero();
        assertThat(egressd.alive()).isTrue();
    }
}
