package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/** The hashed cidr index answers exactly what a first-match scan in file order answers. */
class CidrIndexTest {

    @Property(tries = 300)
    void agreesWithALinearScan(@ForAll long seed, @ForAll @IntRange(min = 1, max = 40) int ruleCount) throws Exception {
        Random random = new Random(seed);
        List<AllowRule> rules = new ArrayList<>();
        for (int i = 0; i < ruleCount; i++) {
            boolean v6 = random.nextInt(3) == 0;
            byte[] bytes = base(random, v6);
            int prefix = random.nextInt(v6 ? 129 : 33);
            Cidr cidr = new Cidr(InetAddress.getByAddress(masked(bytes, prefix)), prefix);
            List<Integer> ports = random.nextBoolean() ? List.of(443) : List.of(443, 5432);
            rules.add(new AllowRule("r#allow[" + i + "]", null, cidr, ports, false));
        }
        CidrIndex index = new CidrIndex(rules);
        for (int probe = 0; probe < 50; probe++) {
            boolean v6 = random.nextInt(3) == 0;
            byte[] address = base(random, v6);
            int port = new int[] {0, 443, 5432, 80}[random.nextInt(4)];
            AllowRule expected = null;
            for (AllowRule rule : rules) {
                if (rule.cidr().contains(InetAddress.getByAddress(address)) && (port == 0 || rule.allowsPort(port))) {
                    expected = rule;
                    break;
                }
            }
            assertThat(index.find(address, port)).isEqualTo(expected);
        }
    }

    /** Addresses drawn from a small space, so that rules and probes overlap often. */
    private static byte[] base(Random random, boolean v6) {
        byte[] b = new byte[v6 ? 16 : 4];
        b[0] = (byte) (v6 ? 0x20 : 10);
        for (int i = 1; i < b.length; i++) {
            b[i] = (byte) (random.nextInt(4) == 0 ? random.nextInt(256) : random.nextInt(2));
        }
        return b;
    }

    private static byte[] masked(byte[] bytes, int prefix) {
        byte[] out = bytes.clone();
        for (int i = 0; i < out.length; i++) {
            int keep = Math.max(0, Math.min(8, prefix - i * 8));
            out[i] = (byte) (out[i] & ((0xff << (8 - keep)) & 0xff));
        }
        return out;
    }
}
