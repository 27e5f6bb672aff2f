package io.egressd.dns;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.policy.Reason;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/** A server tries to leak data through DNS names: none of it reaches the upstream resolver. */
class ExfiltrationTest {

    private static final String ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";
    private static final int[] TYPES = {Type.A, Type.AAAA, Type.TXT, Type.MX, Type.CNAME, Type.HTTPS};

    @Test
    void thousandRandomDeniedNamesNeverReachTheUpstream(@TempDir Path dir) throws Exception {
        Random random = new Random(4);
        List<String> names = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            names.add(switch (i % 4) {
                case 0 -> label(random, 40) + "." + label(random, 40) + ".attacker.example";
                case 1 -> label(random, 50) + ".example.com"; // the registrable domain of an allowed host
                case 2 -> label(random, 20) + ".api.example.com.evil.test"; // allowed name as a prefix
                default -> label(random, 8) + "example.org"; // no label boundary before the wildcard suffix
            });
        }
        try (Harness dns = Harness.start(dir)) {
            SimpleResolver udp = dns.client(false);
            SimpleResolver tcp = dns.client(true);
            for (int i = 0; i < names.size(); i++) {
                Message answer = (i % 10 == 0 ? tcp : udp).send(Harness.newQuery(names.get(i), TYPES[i % TYPES.length]));
                assertThat(answer.getRcode()).as(names.get(i)).isEqualTo(Rcode.NXDOMAIN);
            }
            assertThat(dns.upstream.queries()).isZero();
            assertThat(dns.listener.queries).hasSize(1000).allSatisfy(q -> {
                assertThat(q.decision().denied()).isTrue();
                assertThat(q.decision().reason()).isEqualTo(Reason.HOST_NOT_ALLOWED);
                assertThat(q.rcode()).isEqualTo("NXDOMAIN");
            });
        }
    }

    private static String label(Random random, int length) {
        StringBuilder b = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            b.append(ALPHABET.charAt(random.nextInt(ALPHABET.length())));
        }
        return b.toString();
    }
}
