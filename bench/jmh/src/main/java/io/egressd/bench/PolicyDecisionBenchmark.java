package io.egressd.bench;

import io.egressd.policy.AllowRule;
import io.egressd.policy.Cidr;
import io.egressd.policy.Clients;
import io.egressd.policy.Decision;
import io.egressd.policy.GlobalDeny;
import io.egressd.policy.HostPattern;
import io.egressd.policy.Mode;
import io.egressd.policy.Policy;
import io.egressd.policy.ServerPolicy;
import java.net.InetAddress;
import java.util.ArrayList;
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

/**
 * One decision against a 1,000-rule allowlist (400 exact names, 400 wildcards, 200 cidrs),
 * the per-request cost the proxy and DNS fronts pay: canonicalization, global deny, rule
 * lookup and address vetting. Run: {@code java -jar bench/jmh/target/benchmarks.jar PolicyDecision}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(org.openjdk.jmh.annotations.Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class PolicyDecisionBenchmark {

    private Policy policy;
    private List<InetAddress> publicAddress;

    @Setup
    public void setUp() throws Exception {
        List<AllowRule> rules = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            String id = "allowlists/big.yaml#allow[" + i + "]";
            if (i % 5 < 2) {
                rules.add(new AllowRule(id, HostPattern.parse("api" + i + ".service" + i + ".example.com"), null,
                        List.of(443), false));
            } else if (i % 5 < 4) {
                rules.add(new AllowRule(id, HostPattern.parse("*.tenant" + i + ".example.net"), null,
                        List.of(443, 8443), false));
            } else {
                rules.add(new AllowRule(id, null, Cidr.parse("10." + (i % 250) + "." + (i / 250) + ".0/24"),
                        List.of(5432), false));
            }
        }
        ServerPolicy big = new ServerPolicy("big", "", Mode.ENFORCE, "allowlists/big.yaml", Clients.NONE, rules);
        policy = new Policy(List.of(big), GlobalDeny.BUILT_IN, "bench");
        publicAddress = List.of(InetAddress.getByAddress(new byte[] {(byte) 198, 41, 0, 4}));
    }

    @Benchmark
    public Decision allowedExactName() {
        return policy.evaluate("big", "api995.service995.example.com", 443).vet(publicAddress);
    }

    @Benchmark
    public Decision allowedWildcardName() {
        return policy.evaluate("big", "a.b.tenant997.example.net", 8443).vet(publicAddress);
    }

    @Benchmark
    public Decision deniedName() {
        return policy.evaluate("big", "exfil-4f2a9c.attacker.example", 443).decision();
    }

    @Benchmark
    public Decision allowedIpLiteral() {
        return policy.evaluate("big", "10.249.3.17", 5432).decision();
    }

    @Benchmark
    public Decision deniedIpLiteral() {
        return policy.evaluate("big", "169.254.169.254", 80).decision();
    }
}
