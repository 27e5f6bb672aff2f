package io.egressd.dns;

import io.egressd.policy.AllowRule;
import io.egressd.policy.Cidr;
import io.egressd.policy.Clients;
import io.egressd.policy.EgressListener;
import io.egressd.policy.GlobalDeny;
import io.egressd.policy.HostPattern;
import io.egressd.policy.Mode;
import io.egressd.policy.Policy;
import io.egressd.policy.ServerPolicy;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * The DNS filter's work for one UDP query, without sockets: decode the datagram, identify the
 * client, decide the name, answer from the cache (allowed names) or refuse locally (denied
 * names), filter the addresses and encode the reply. The listener is a no-op, so audit and
 * metrics are not in these figures. In package io.egressd.dns for its package-private classes.
 * Run: {@code java -jar bench/jmh/target/benchmarks.jar DnsQueryPath}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(org.openjdk.jmh.annotations.Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 10, time = 1) // the allowed path is a deep call tree: C2 needs several seconds for it
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DnsQueryPathBenchmark {

    private static final int NAMES = 1024;
    private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.1", 40000);

    private QueryService service;
    private byte[][] allowed;
    private byte[][] denied;
    private int next;

    @Setup
    public void setUp() throws Exception {
        ServerPolicy bench = new ServerPolicy("bench", "", Mode.ENFORCE, "allowlists/bench.yaml", Clients.NONE,
                List.of(new AllowRule("allowlists/bench.yaml#allow[0]", HostPattern.parse("*.ok.bench.example"),
                                null, List.of(443), false),
                        new AllowRule("allowlists/bench.yaml#allow[1]", null, Cidr.parse("127.0.0.1/32"),
                                List.of(443), false)));
        Policy policy = new Policy(List.of(bench), GlobalDeny.BUILT_IN, "bench");
        AnswerCache cache = new AnswerCache(DnsSettings.DEFAULT_CACHE_MAX_ENTRIES, System::nanoTime);
        // Never asked: every allowed name below is in the cache, every denied one is refused.
        Forwarder forwarder = new Forwarder(List.of(new InetSocketAddress("127.0.0.1", 9)), Duration.ofSeconds(1));
        service = new QueryService("bench", DenyRcode.NXDOMAIN, () -> policy, EgressListener.NONE, cache, forwarder);
        allowed = new byte[NAMES][];
        denied = new byte[NAMES][];
        for (int i = 0; i < NAMES; i++) {
            Name name = Name.fromString("a" + i + ".ok.bench.example.");
            Message response = Message.newQuery(Record.newRecord(name, Type.A, DClass.IN));
            response.getHeader().setFlag(Flags.QR);
            response.addRecord(new ARecord(name, DClass.IN, 3600, java.net.InetAddress.getByName("127.0.0.1")),
                    Section.ANSWER);
            cache.put(new QuestionKey("a" + i + ".ok.bench.example", Type.A, DClass.IN),
                    UpstreamAnswer.of(response, name, Type.A, cache.now()));
            allowed[i] = query("a" + i + ".ok.bench.example.");
            denied[i] = query(String.format("x%08x.denied.example.", i * 2654435761L & 0xffffffffL));
        }
    }

    private static byte[] query(String name) throws Exception {
        return Message.newQuery(Record.newRecord(Name.fromString(name), Type.A, DClass.IN)).toWire();
    }

    @Benchmark
    public byte[] cachedAllowedName() {
        return answer(allowed[next++ & (NAMES - 1)]);
    }

    @Benchmark
    public byte[] deniedName() {
        return answer(denied[next++ & (NAMES - 1)]);
    }

    /** What UdpQueryHandler does with a datagram, on the caller's thread. */
    private byte[] answer(byte[] wire) {
        Decoded.Query decoded = (Decoded.Query) QueryDecoder.decode(wire, CLIENT, false);
        DnsQuery query = decoded.query();
        Message reply = service.answer(query, Runnable::run).join();
        return Replies.encode(reply, query.maxAnswerSize());
    }
}
