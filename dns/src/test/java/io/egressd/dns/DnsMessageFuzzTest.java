package io.egressd.dns;

import static io.egressd.dns.TestUpstream.a;
import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Policy;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * Fuzzes the DNS message path: {@link QueryDecoder} on arbitrary bytes, then, for what decodes
 * as a query, {@link QueryService} (policy, cache, forwarding to a loopback test upstream) and
 * the wire encoding the transports send. Properties, for any bytes:
 * <ul>
 *   <li>nothing throws, and the answer's future never completes exceptionally;</li>
 *   <li>only a message shorter than a header or with QR set is dropped unanswered;</li>
 *   <li>every answer is well-formed: it parses, has QR set, echoes the query's ID and opcode,
 *       fits the client's transport size, echoes the question of a query, and carries answer
 *       records only with NOERROR.</li>
 * </ul>
 * First input byte: bit 0 = over TCP, bit 1 = from 127.0.0.2 (an unknown client) rather than
 * 127.0.0.1 (server "app"). The rest is the DNS message.
 */
class DnsMessageFuzzTest {

    private static final InetSocketAddress APP = new InetSocketAddress(InetAddress.getLoopbackAddress(), 40000);
    private static final AtomicLong RUNS = new AtomicLong();
    private static final AtomicLong ANSWERED = new AtomicLong();

    private static Path dir;
    private static TestUpstream upstream;
    private static QueryService service;

    @BeforeAll
    static void start() throws IOException {
        dir = Files.createTempDirectory("dns-fuzz");
        Policy policy = TestPolicies.load(dir, TestPolicies.APP);
        upstream = TestUpstream.start();
        upstream.answer("api.example.com", Type.A, a("api.example.com", 300, "93.184.215.60"));
        upstream.answer("www.example.org", Type.A, a("www.example.org", 300, "10.1.2.3"),
                a("www.example.org", 300, "93.184.215.61"));
        service = new QueryService(null, DenyRcode.NXDOMAIN, () -> policy, EgressListener.NONE,
                new AnswerCache(1000, System::nanoTime),
                new Forwarder(List.of(upstream.address()), Duration.ofSeconds(2)));
    }

    @AfterAll
    static void stop() throws IOException, URISyntaxException {
        upstream.close();
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        String seeds = "DnsMessageFuzzTestInputs/message";
        long count;
        try (Stream<Path> files = Files.list(Path.of(DnsMessageFuzzTest.class.getResource(seeds).toURI()))) {
            count = files.count();
        }
        assertThat(count).as("seed files in %s", seeds).isGreaterThanOrEqualTo(10);
        assertThat(RUNS.get()).as("inputs run").isGreaterThanOrEqualTo(count);
        assertThat(ANSWERED.get()).as("inputs that decoded as queries and were answered").isGreaterThanOrEqualTo(5);
    }

    @FuzzTest(maxDuration = "2m")
    void message(byte[] input) throws Exception {
        RUNS.incrementAndGet();
        if (input.length == 0) {
            return;
        }
        boolean tcp = (input[0] & 1) != 0;
        InetSocketAddress client = (input[0] & 2) != 0
                ? new InetSocketAddress(InetAddress.getByAddress(new byte[] {127, 0, 0, 2}), 40000) : APP;
        byte[] wire = Arrays.copyOfRange(input, 1, input.length);

        Decoded decoded = QueryDecoder.decode(wire, client, tcp);
        if (decoded instanceof Decoded.Drop drop) {
            assertThat(wire.length < 12 || (wire[2] & 0x80) != 0)
                    .as("dropped (%s) a message with a header and QR clear", drop.why()).isTrue();
            return;
        }
        if (decoded instanceof Decoded.Reply reply) {
            Message parsed = wellFormed(wire, Replies.encode(reply.reply(), DnsQuery.CLASSIC_UDP_SIZE),
                    DnsQuery.CLASSIC_UDP_SIZE);
            int rcode = parsed.getRcode();
            assertThat(rcode).as("rcode of an immediate reply")
                    .isIn(Rcode.FORMERR, Rcode.NOTIMP, Rcode.BADVERS);
            return;
        }
        DnsQuery query = ((Decoded.Query) decoded).query();
        Message answer = service.answer(query, Runnable::run).get(10, TimeUnit.SECONDS);
        Message parsed = wellFormed(wire, Replies.encode(answer, query.maxAnswerSize()), query.maxAnswerSize());
        assertThat(parsed.getQuestion()).as("question echoed").isEqualTo(query.question());
        if (parsed.getRcode() != Rcode.NOERROR) {
            assertThat(parsed.getSection(Section.ANSWER)).as("answer records with rcode %s",
                    Rcode.string(parsed.getRcode())).isEmpty();
        }
        ANSWERED.incrementAndGet();
    }

    /** Parses an answer as a client would and checks what every answer must have. */
    private static Message wellFormed(byte[] query, byte[] answer, int maxSize) throws IOException {
        assertThat(answer.length).as("answer size").isBetween(12, maxSize);
        Message parsed = new Message(answer);
        assertThat(parsed.getHeader().getFlag(Flags.QR)).as("QR").isTrue();
        int id = ((query[0] & 0xff) << 8) | (query[1] & 0xff);
        assertThat(parsed.getHeader().getID()).as("ID").isEqualTo(id);
        assertThat(parsed.getHeader().getOpcode()).as("opcode").isEqualTo((query[2] >> 3) & 0x0f);
        return parsed;
    }
}
