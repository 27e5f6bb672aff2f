package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.egressd.dns.DnsFilter;
import io.egressd.dns.DnsSettings;
import io.egressd.policy.AllowlistLoader;
import io.egressd.policy.Decision;
import io.egressd.policy.EgressListener;
import io.egressd.policy.GlobalDeny;
import io.egressd.policy.LearnedAddresses;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * The DNS-learned path end to end, with egressd's real DNS filter and SOCKS5 front sharing one
 * {@link LearnedAddresses}: a client resolves an allowed name through egressd's DNS and then
 * asks SOCKS5 for the address it got (curl --socks5, which resolves locally).
 *
 * <p>Which addresses can be learned meaningfully on loopback? None on loopback itself: a
 * loopback address passes only through a cidr rule for the port, which already allows the IP
 * literal, so the learned path could add nothing (LearnedAddressesTest shows it never does).
 * The path matters for private and public addresses. So the test's DNS answers a private
 * address, 10.77.0.5, for {@code db.test} (a host rule with {@code private: true}), and the
 * test's network routes that one vetted address to an HTTP server on 127.0.0.1; every other
 * non-loopback address is refused before a connect. Nothing leaves the machine.
 */
class DnsLearnedSocksTest {

    static final String DB = "10.77.0.5";

    @TempDir
    Path dir;

    private HttpServer upstream;
    private final AtomicInteger upstreamRequests = new AtomicInteger();
    private LoopbackDnsUpstream dnsUpstream;
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
    private final LearnedAddresses learned = new LearnedAddresses(1000, nanos::get);
    private final List<Decision> socksDecisions = new CopyOnWriteArrayList<>();
    private DnsFilter dns;
    private SocksProxy socks;
    private int port;

    @BeforeEach
    void start() throws Exception {
        upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        upstream.createContext("/", exchange -> {
            upstreamRequests.incrementAndGet();
            byte[] body = "hello from the database host\n".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        upstream.start();
        port = upstream.getAddress().getPort();
        dnsUpstream = new LoopbackDnsUpstream().a("db.test", DB, 30);

        Path lists = Files.createDirectories(dir.resolve("allowlists"));
        for (String server : List.of("app", "other")) {
            Files.writeString(lists.resolve(server + ".yaml"), """
                    server: %s
                    clients:
                      sources: [%s/32]
                    allow:
                      - host: db.test
                        ports: [%d]
                        private: true
                    """.formatted(server, server.equals("app") ? "127.0.0.1" : "127.0.0.3", port));
        }
        Policy policy = AllowlistLoader.load(lists, GlobalDeny.BUILT_IN);
        EgressListener listener = new EgressListener() {
            @Override
            public void decided(Protocol protocol, InetSocketAddress client, Decision decision) {
                if (protocol == Protocol.SOCKS5) {
                    socksDecisions.add(decision);
                }
            }
        };
        dns = DnsFilter.start(DnsSettings.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0),
                List.of(dnsUpstream.address())), () -> policy, listener, learned);
        InetSocketAddress vetted = new InetSocketAddress(InetAddress.getByName(DB), port);
        Route testNetwork = address -> address.equals(vetted) ? new InetSocketAddress("127.0.0.1", port)
                : address.getAddress().isLoopbackAddress() ? address : null;
        socks = SocksProxy.start(ProxySettings.defaults(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                        .withConnectTimeout(Duration.ofSeconds(2)).withThreads(1, 1, 1),
                () -> policy, listener, name -> java.util.concurrent.CompletableFuture.failedFuture(
                        new java.net.UnknownHostException(name)), learned, testNetwork);
    }

    @AfterEach
    void stop() {
        socks.close();
        dns.close();
        dnsUpstream.close();
        upstream.stop(0);
    }

    /** An A query to egressd's DNS from {@code source}; the addresses answered. */
    private List<String> resolve(String source, String name) throws IOException {
        SimpleResolver resolver = new SimpleResolver(dns.udpAddress());
        resolver.setLocalAddress(new InetSocketAddress(source, 0));
        resolver.setTimeout(Duration.ofSeconds(5));
        Message answer = resolver.send(Message.newQuery(Record.newRecord(Name.fromString(name, Name.root), Type.A,
                DClass.IN)));
        return answer.getSection(Section.ANSWER).stream().filter(r -> r instanceof ARecord)
                .map(r -> ((ARecord) r).getAddress().getHostAddress()).toList();
    }

    private record Curl(int exit, String stdout, String stderr) { }

    /** curl --socks5 (names resolved locally; here the URL has an address) from {@code source}. */
    private Curl curl(String source, String url) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("/usr/bin/curl", "-sS", "--max-time", "20", "--interface", source,
                "--socks5", "127.0.0.1:" + socks.boundAddress().getPort(), url);
        pb.environment().keySet().removeIf(k -> k.toLowerCase(java.util.Locale.ROOT).endsWith("_proxy"));
        Path err = Files.createTempFile(dir, "curl", ".err");
        pb.redirectError(err.toFile());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("curl did not finish");
        }
        return new Curl(p.exitValue(), out, Files.readString(err));
    }

    @Test
    void anAddressResolvedThroughEgressdsDnsIsReachableAsTheNameItCameFrom() throws Exception {
        Curl before = curl("127.0.0.1", "http://" + DB + ":" + port + "/");
        assertThat(before.exit()).isEqualTo(97);
        assertThat(socksDecisions.get(0).reason()).isEqualTo(Reason.IP_LITERAL_NOT_ALLOWED);

        assertThat(resolve("127.0.0.1", "db.test")).containsExactly(DB);
        Curl after = curl("127.0.0.1", "http://" + DB + ":" + port + "/");
        assertThat(after.exit()).as(after.stderr()).isZero();
        assertThat(after.stdout()).isEqualTo("hello from the database host\n");
        assertThat(upstreamRequests.get()).isEqualTo(1);
        Decision d = socksDecisions.get(1);
        assertThat(d.allowed()).isTrue();
        assertThat(d.wouldDeny()).isFalse();
        assertThat(d.server()).isEqualTo("app");
        assertThat(d.host()).isEqualTo("db.test");
        assertThat(d.address()).isEqualTo(InetAddress.getByName(DB));
        assertThat(d.rule()).endsWith("app.yaml#allow[0]");
    }

    @Test
    void anotherServerCannotUseWhatThisOneLearned() throws Exception {
        assertThat(resolve("127.0.0.1", "db.test")).containsExactly(DB);
        Curl other = curl("127.0.0.3", "http://" + DB + ":" + port + "/");
        assertThat(other.exit()).isEqualTo(97);
        assertThat(other.stderr()).containsPattern("(?i)complete SOCKS5 connection to " + DB.replace(".", "\\.")
                + "\\. \\(2\\)");
        assertThat(socksDecisions).singleElement().satisfies(d -> {
            assertThat(d.server()).isEqualTo("other");
            assertThat(d.reason()).isEqualTo(Reason.IP_LITERAL_NOT_ALLOWED);
        });
        assertThat(upstreamRequests.get()).isZero();
    }

    @Test
    void theAddressIsRefusedOnceItsTtlHasRunOut() throws Exception {
        assertThat(resolve("127.0.0.1", "db.test")).containsExactly(DB);
        nanos.addAndGet(TimeUnit.SECONDS.toNanos(29));
        assertThat(curl("127.0.0.1", "http://" + DB + ":" + port + "/").exit()).isZero();
        nanos.addAndGet(TimeUnit.SECONDS.toNanos(1));
        Curl expired = curl("127.0.0.1", "http://" + DB + ":" + port + "/");
        assertThat(expired.exit()).isEqualTo(97);
        assertThat(socksDecisions.get(1).reason()).isEqualTo(Reason.IP_LITERAL_NOT_ALLOWED);
        assertThat(upstreamRequests.get()).isEqualTo(1);
    }

    @Test
    void aPortTheNameDoesNotAllowStaysRefused() throws Exception {
        assertThat(resolve("127.0.0.1", "db.test")).containsExactly(DB);
        Curl wrongPort = curl("127.0.0.1", "http://" + DB + ":" + (port == 65535 ? 1 : port + 1) + "/");
        assertThat(wrongPort.exit()).isEqualTo(97);
        assertThat(socksDecisions.get(0).allowed()).isFalse();
        assertThat(upstreamRequests.get()).isZero();
    }
}
