package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;

/**
 * Fuzzes {@link Host#parse}, the one canonicalizer for requests, DNS names and allowlists.
 * In the normal build it runs the seed corpus (regression mode); docs/testing.md says how to
 * fuzz it for longer. Properties, for any input:
 * <ul>
 *   <li>it returns or throws {@link InvalidHostException}, never anything else;</li>
 *   <li>a name is canonical: only {@code [a-z0-9._-]}, labels 1-63 not starting or ending
 *       with '-', at most 253 characters, no numeric last label; an IP prints as a literal;</li>
 *   <li>it is idempotent: parsing the canonical form gives the same host back.</li>
 * </ul>
 */
class HostFuzzTest {

    private static final Pattern CANONICAL_NAME = Pattern.compile("[a-z0-9_-]{1,63}(\\.[a-z0-9_-]{1,63})*");
    private static final Pattern IPV4 = Pattern.compile("(0|[1-9][0-9]{0,2})(\\.(0|[1-9][0-9]{0,2})){3}");
    private static final Pattern IPV6 = Pattern.compile("\\[[0-9a-f:.]+\\]");
    private static final AtomicLong RUNS = new AtomicLong();

    @FuzzTest(maxDuration = "2m")
    void canonicalize(byte[] input) {
        RUNS.incrementAndGet();
        // UTF-8 and, for the same bytes, Latin-1: the second reaches every char below U+0100.
        check(new String(input, StandardCharsets.UTF_8));
        check(new String(input, StandardCharsets.ISO_8859_1));
    }

    private static void check(String raw) {
        Host host;
        try {
            host = Host.parse(raw);
        } catch (InvalidHostException e) {
            assertThat(e.getMessage()).isNotBlank();
            return;
        }
        String canonical = host.toString();
        if (host instanceof Host.Name name) {
            assertThat(canonical).as("canonical form of %s", show(raw)).matches(CANONICAL_NAME);
            assertThat(canonical.length()).isLessThanOrEqualTo(Host.MAX_NAME_LENGTH);
            for (String label : canonical.split("\\.")) {
                assertThat(label).as("label of %s", canonical).doesNotStartWith("-").doesNotEndWith("-");
            }
            String last = canonical.substring(canonical.lastIndexOf('.') + 1);
            assertThat(last).as("last label of %s", canonical).doesNotMatch("[0-9]+|0x.*");
            assertThat(name.value()).isEqualTo(canonical);
        } else {
            Host.Ip ip = (Host.Ip) host;
            if (ip.address() instanceof Inet4Address) {
                assertThat(canonical).as("IPv4 form of %s", show(raw)).matches(IPV4);
            } else {
                assertThat(ip.address()).isInstanceOf(Inet6Address.class);
                assertThat(canonical).as("IPv6 form of %s", show(raw)).matches(IPV6);
            }
        }
        Host again;
        try {
            again = Host.parse(canonical);
        } catch (InvalidHostException e) {
            throw new AssertionError("canonical form " + canonical + " of " + show(raw) + " does not parse", e);
        }
        assertThat(again).as("parse(parse(%s))", show(raw)).isEqualTo(host);
        assertThat(again.toString()).isEqualTo(canonical);
    }

    private static String show(String raw) {
        StringBuilder out = new StringBuilder("\"");
        raw.codePoints().limit(300).forEach(c -> out.append(c >= 0x20 && c < 0x7f ? Character.toString(c)
                : String.format("\\u{%x}", c)));
        return out.append('"').toString();
    }

    @AfterAll
    static void ranTheCorpus() {
        assertThat(RUNS.get()).as("inputs run").isGreaterThanOrEqualTo(Seeds.count(HostFuzzTest.class, "canonicalize"));
    }
}
