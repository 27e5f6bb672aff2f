package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * {@link Host#isCanonical}, the one-pass check that lets canonical names skip the full
 * canonicalizer, agrees with that canonicalizer: a name passes exactly when the full path
 * accepts it and returns it unchanged. Were it to pass a name the full path would change or
 * refuse, that name would reach the policy uncanonicalized.
 */
class HostFastPathTest {

    @Property(tries = 20_000)
    void theFastPathAcceptsExactlyWhatTheFullPathReturnsUnchanged(@ForAll("nearlyNames") String dotted) {
        assertThat(Host.isCanonical(dotted)).as("isCanonical(%s)", dotted).isEqualTo(fullPathKeeps(dotted));
    }

    @Example
    void theEdgesOfTheRulesAreDecidedAlike() {
        String label63 = "a".repeat(63);
        String name253 = (label63 + ".").repeat(3) + "a".repeat(61);
        for (String dotted : new String[] {"example.com", "a", "x_y.example", "a-b.c", label63, label63 + "a",
                name253, name253 + "a", "-a.com", "a-.com", "a..com", ".a", "a.", "EXAMPLE.com", "b\u00fccher.de",
                "xn--bcher-kva.de", "example.0x1f", "example.123", "1.2.3.4.5", "example.12a", "a b.com"}) {
            assertThat(Host.isCanonical(dotted)).as("isCanonical(%s)", dotted).isEqualTo(fullPathKeeps(dotted));
        }
        assertThat(Host.isCanonical("example.com")).isTrue();
        assertThat(Host.isCanonical("Example.com")).isFalse();
    }

    private static boolean fullPathKeeps(String dotted) {
        try {
            return Host.canonicalize(dotted).equals(dotted);
        } catch (InvalidHostException e) {
            return false;
        }
    }

    /** Strings near the rules: mostly name characters and dots, some upper case, digits, non-ASCII. */
    @Provide
    Arbitrary<String> nearlyNames() {
        Arbitrary<Character> chars = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(30, Arbitraries.chars().range('a', 'f')),
                net.jqwik.api.Tuple.of(8, Arbitraries.of('.')),
                net.jqwik.api.Tuple.of(6, Arbitraries.chars().range('0', '9')),
                net.jqwik.api.Tuple.of(3, Arbitraries.of('-', '_', 'x')),
                net.jqwik.api.Tuple.of(2, Arbitraries.chars().range('A', 'F')),
                net.jqwik.api.Tuple.of(1, Arbitraries.of('\u00fc', '\u3002', ' ', '*', '/')));
        Arbitrary<String> shortOnes = chars.list().ofMinSize(0).ofMaxSize(20)
                .map(cs -> cs.stream().map(String::valueOf).reduce("", String::concat));
        Arbitrary<String> longOnes = chars.list().ofMinSize(55).ofMaxSize(270)
                .map(cs -> cs.stream().map(String::valueOf).reduce("", String::concat));
        return Arbitraries.oneOf(shortOnes, shortOnes, longOnes);
    }
}
