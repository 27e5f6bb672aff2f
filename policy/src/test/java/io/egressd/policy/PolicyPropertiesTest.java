package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.net.InetAddresses;
import java.math.BigInteger;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.statistics.StatisticsReport;
import net.jqwik.api.statistics.StatisticsReport.StatisticsReportMode;
import net.jqwik.api.statistics.Statistics;

/**
 * Properties of canonicalization and matching, over generated names and addresses: the
 * invariants that a hand-written table can only sample.
 */
class PolicyPropertiesTest {

    private static final Policy POLICY = Fixtures.validPolicy();
    private static final InetAddress PUBLIC = Fixtures.ip("9.9.9.9");

    // ---------------------------------------------------------------- canonicalization is idempotent

    /** Labels of ASCII and non-ASCII letters, digits, '-' and '_', joined by any of the four full stops. */
    @Provide
    Arbitrary<String> names() {
        Arbitrary<String> ascii = Arbitraries.strings().withChars("abcxyzABCXYZ0189-_").ofMinLength(1).ofMaxLength(10);
        Arbitrary<String> unicode = Arbitraries.strings()
                .withChars("ab\u00e4\u00f6\u00fc\u00df\u0430\u0435\u043e\u03c3\u03a3\uff53\uff4c\uff21\u0130\u0131")
                .ofMinLength(1).ofMaxLength(8);
        Arbitrary<String> label = Arbitraries.frequencyOf(
                net.jqwik.api.Tuple.of(6, ascii), net.jqwik.api.Tuple.of(2, unicode),
                net.jqwik.api.Tuple.of(1, Arbitraries.of("xn--slck-63d", "com", "slack", "a".repeat(63))));
        Arbitrary<String> separator = Arbitraries.of(".", ".", ".", "\u3002", "\uff0e", "\uff61");
        return Combinators.combine(label.list().ofMinSize(1).ofMaxSize(5), separator,
                Arbitraries.of("", "", ".", "\u3002")).as((labels, sep, trailing) -> String.join(sep, labels) + trailing);
    }

    @Property(edgeCases = EdgeCasesMode.MIXIN)
    @StatisticsReport(StatisticsReportMode.OFF)
    void canonicalizingANameTwiceChangesNothing(@ForAll("names") String raw) {
        Host first = parseOrNull(raw);
        Statistics.label("parses").collect(first != null);
        Statistics.label("parses").coverage(c -> c.check(true).percentage(p -> p > 40));
        if (first == null) {
            return;
        }
        String text = first.toString();
        assertThat(parseOrNull(text)).isEqualTo(first);
        assertThat(parseOrNull(text).toString()).isEqualTo(text);
        if (first instanceof Host.Name) {
            assertThat(text).matches("[a-z0-9_-]+(\\.[a-z0-9_-]+)*").hasSizeLessThanOrEqualTo(253);
            // And the canonical form of a canonical form's variants is the canonical form.
            assertThat(parseOrNull(text.toUpperCase(Locale.ROOT) + ".")).isEqualTo(first);
        }
    }

    @Property(edgeCases = EdgeCasesMode.MIXIN)
    @StatisticsReport(StatisticsReportMode.OFF)
    void canonicalizingAnIpv4LiteralKeepsItsAddress(@ForAll @IntRange(max = 255) int a, @ForAll @IntRange(max = 255) int b,
                                                    @ForAll @IntRange(max = 255) int c, @ForAll @IntRange(max = 255) int d,
                                                    @ForAll boolean trailingDot) {
        String raw = a + "." + b + "." + c + "." + d + (trailingDot ? "." : "");
        Host host = parseOrNull(raw);
        assertThat(host).isInstanceOf(Host.Ip.class);
        assertThat(((Host.Ip) host).address().getAddress())
                .containsExactly((byte) a, (byte) b, (byte) c, (byte) d);
        assertThat(host.toString()).isEqualTo(a + "." + b + "." + c + "." + d);
        assertThat(parseOrNull(host.toString())).isEqualTo(host);
    }

    /** Sixteen bytes, often with long zero runs (so that :: compression and embedded IPv4 forms occur). */
    @Provide
    Arbitrary<byte[]> ipv6() {
        Arbitrary<byte[]> random = Arbitraries.bytes().array(byte[].class).ofSize(16);
        Arbitrary<byte[]> embedded = Combinators.combine(
                Arbitraries.of(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff},
                        new byte[12], new byte[] {0, 0x64, (byte) 0xff, (byte) 0x9b, 0, 0, 0, 0, 0, 0, 0, 0},
                        new byte[] {0x20, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
                Arbitraries.bytes().array(byte[].class).ofSize(4)).as((prefix, tail) -> {
                    byte[] out = Arrays.copyOf(prefix, 16);
                    System.arraycopy(tail, 0, out, 12, 4);
                    return out;
                });
        Arbitrary<byte[]> sparse = Arbitraries.bytes().array(byte[].class).ofSize(16)
                .map(bytes -> {
                    byte[] out = bytes.clone();
                    for (int i = 2 + Math.floorMod(out[0], 8); i < 16 && i < 6 + Math.floorMod(out[1], 10); i++) {
                        out[i] = 0;
                    }
                    return out;
                });
        return Arbitraries.oneOf(random, embedded, sparse);
    }

    @Property(edgeCases = EdgeCasesMode.MIXIN)
    @StatisticsReport(StatisticsReportMode.OFF)
    void canonicalizingAnIpv6LiteralKeepsItsAddress(@ForAll("ipv6") byte[] bytes, @ForAll Random random) {
        InetAddress address = Fixtures.v6(bytes);
        String compressed = InetAddresses.toAddrString(address);
        String spelled = switch (random.nextInt(4)) {
            case 0 -> compressed;
            case 1 -> compressed.toUpperCase(Locale.ROOT);
            case 2 -> address.getHostAddress();        // eight groups, no compression
            default -> String.join(":", Arrays.stream(address.getHostAddress().split(":"))
                    .map(g -> "0".repeat(4 - g.length()) + g).toList());  // leading zeros in every group
        };
        Host host = parseOrNull("[" + spelled + "]");
        assertThat(host).as(spelled).isInstanceOf(Host.Ip.class);
        InetAddress parsed = ((Host.Ip) host).address();
        if (parsed instanceof Inet4Address) {
            // Only the IPv4-mapped form becomes IPv4, and then it is the address it carries.
            assertThat(Arrays.copyOf(bytes, 12)).containsExactly(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, -1);
            assertThat(parsed.getAddress()).containsExactly(Arrays.copyOfRange(bytes, 12, 16));
        } else {
            assertThat(parsed.getAddress()).containsExactly(bytes);
        }
        assertThat(parseOrNull(host.toString())).isEqualTo(host);
        assertThat(parseOrNull(spelled)).as("unbracketed IPv6 is never a host").isNull();
    }

    // ------------------------------------------------- case and trailing-dot variants decide the same

    @Provide
    Arbitrary<String> policyNames() {
        Arbitrary<String> known = Arbitraries.of("slack.com", "api.slack.com", "a.b.slack.com", "files.slack-edge.com",
                "evilslack.com", "slack.com.evil.com", "localhost", "foo.localhost", "metadata.google.internal",
                "x.local", "blocked.slack.com", "docs.python.org", "developer.mozilla.org", "db.internal.example.com",
                "dev.example.net", "x.evil.example", "xn--slck-63d.com");
        Arbitrary<String> label = Arbitraries.strings().withChars("abcslk0-").ofMinLength(1).ofMaxLength(6)
                .filter(l -> !l.startsWith("-") && !l.endsWith("-"));
        Arbitrary<String> random = Combinators.combine(label.list().ofMinSize(0).ofMaxSize(3),
                Arbitraries.of("slack.com", "example.com", "evil.example", "local", "com")).as((labels, suffix) -> {
                    List<String> all = new ArrayList<>(labels);
                    all.add(suffix);
                    return String.join(".", all);
                });
        return Arbitraries.oneOf(known, random);
    }

    @Property(edgeCases = EdgeCasesMode.MIXIN)
    @StatisticsReport(StatisticsReportMode.OFF)
    void caseAndTrailingDotVariantsDecideTheSame(@ForAll("policyNames") String name,
                                                @ForAll("servers") String server,
                                                @ForAll("ports") int port,
                                                @ForAll("answers") String answers,
                                                @ForAll Random random) throws UnknownHostException {
        StringBuilder variant = new StringBuilder();
        for (char ch : name.toCharArray()) {
            variant.append(random.nextBoolean() ? Character.toUpperCase(ch) : ch);
        }
        variant.append(switch (random.nextInt(3)) {
            case 0 -> ".";
            case 1 -> "\u3002";
            default -> "";
        });
        Decision canonical = POLICY.decide(server, name, port, new Fixtures.FakeResolver(Fixtures.ips(answers)));
        Decision other = POLICY.decide(server, variant.toString(), port,
                new Fixtures.FakeResolver(Fixtures.ips(answers)));
        Statistics.label("decision").collect(canonical.allowed() ? "allowed" : canonical.reason().code());
        Statistics.label("decision").coverage(c -> {
            c.check("allowed").percentage(p -> p > 5);
            c.check("host_not_allowed").percentage(p -> p > 5);
        });
        assertThat(other).as(variant.toString()).isEqualTo(canonical);
    }

    @Provide
    Arbitrary<String> servers() {
        return Arbitraries.of("slack", "fetch", "postgres", "local-dev");
    }

    @Provide
    Arbitrary<Integer> ports() {
        return Arbitraries.of(443, 443, 80, 5432, 8080, 8443);
    }

    @Provide
    Arbitrary<String> answers() {
        return Arbitraries.of("9.9.9.9", "127.0.0.1", "10.1.2.3", "9.9.9.9 127.0.0.1", "169.254.169.254 9.9.9.8",
                "10.20.99.1", "fd12::1");
    }

    // --------------------------------------------- *.x matches exactly the names with more labels

    /** Labels from a three-letter alphabet, so that near-misses are common. */
    private static Arbitrary<String> tinyLabel() {
        return Arbitraries.strings().withChars("abx").ofMinLength(1).ofMaxLength(3);
    }

    @Provide
    Arbitrary<String> suffixes() {
        return suffixArbitrary();
    }

    private static Arbitrary<String> suffixArbitrary() {
        return tinyLabel().list().ofMinSize(1).ofMaxSize(3).map(labels -> String.join(".", labels));
    }

    /** Names built from a suffix: below it, glued to it, above it, beside it, or unrelated. */
    private static Arbitrary<String> candidates(String x) {
        Arbitrary<String> prefix = tinyLabel().list().ofMinSize(1).ofMaxSize(3).map(l -> String.join(".", l));
        return Arbitraries.oneOf(
                prefix.map(p -> p + "." + x),               // a subdomain
                Arbitraries.just(x),                        // x itself
                tinyLabel().map(l -> l + x),                // evilx: no label boundary
                prefix.map(p -> x + "." + p),               // x.evil
                prefix.map(p -> p + "." + x.substring(x.indexOf('.') + 1)), // a sibling of x
                prefix.map(p -> p + x.substring(Math.min(1, x.length() - 1))), // x with its first letter changed
                suffixArbitrary());                         // anything
    }

    @Provide
    Arbitrary<String[]> suffixAndName() {
        return suffixArbitrary().flatMap(x -> candidates(x).map(name -> new String[] {x, name}));
    }

    @Property(edgeCases = EdgeCasesMode.MIXIN)
    @StatisticsReport(StatisticsReportMode.OFF)
    void wildcardMatchesExactlyTheNamesWithMoreLabelsOnALabelBoundary(@ForAll("suffixAndName") String[] pair,
                                                                     @ForAll boolean shout)
            throws UnknownHostException {
        String x = pair[0];
        String name = pair[1];
        List<String> nameLabels = List.of(name.split("\\."));
        List<String> suffixLabels = List.of(x.split("\\."));
        boolean expected = nameLabels.size() > suffixLabels.size()
                && nameLabels.subList(nameLabels.size() - suffixLabels.size(), nameLabels.size()).equals(suffixLabels);
        Statistics.label("matches").collect(expected);
        Statistics.label("matches").coverage(c -> {
            c.check(true).percentage(p -> p > 10);
            c.check(false).percentage(p -> p > 10);
        });

        HostPattern wildcard = new HostPattern(x, true);
        assertThat(wildcard.matches(name)).as("*.%s matches %s", x, name).isEqualTo(expected);
        assertThat(new HostPattern(x, false).matches(name)).isEqualTo(name.equals(x));

        // The same through the policy's index, which is what decides.
        ServerPolicy server = new ServerPolicy("s", "", Mode.ENFORCE, "s.yaml", Clients.NONE,
                List.of(new AllowRule("s.yaml#allow[0]", wildcard, null, List.of(443), false)));
        Policy policy = new Policy(List.of(server), GlobalDeny.BUILT_IN, "v");
        String asked = shout ? name.toUpperCase(Locale.ROOT) + "." : name;
        Decision d = policy.decide("s", asked, 443, n -> List.of(PUBLIC));
        assertThat(d.allowed()).as("*.%s allows %s", x, asked).isEqualTo(expected);
        assertThat(d.reason()).isEqualTo(expected ? null : Reason.HOST_NOT_ALLOWED);
        assertThat(policy.evaluateQuery("s", asked).provisional().allowed()).isEqualTo(expected);
    }

    // ------------------------------------------- a cidr rule matches exactly the addresses inside it

    @Property(edgeCases = EdgeCasesMode.MIXIN)
    @StatisticsReport(StatisticsReportMode.OFF)
    void ipv4CidrContainsExactlyItsAddresses(@ForAll("ipv4Bytes") byte[] network, @ForAll @IntRange(max = 32) int prefix,
                                             @ForAll("ipv4Bytes") byte[] other, @ForAll @IntRange(max = 5) int how)
            throws UnknownHostException {
        checkCidr(network, prefix, other, how);
    }

    @Property(edgeCases = EdgeCasesMode.MIXIN)
    @StatisticsReport(StatisticsReportMode.OFF)
    void ipv6CidrContainsExactlyItsAddresses(@ForAll("ipv6") byte[] network, @ForAll @IntRange(max = 128) int prefix,
                                             @ForAll("ipv6") byte[] other, @ForAll @IntRange(max = 5) int how)
            throws UnknownHostException {
        checkCidr(network, prefix, other, how);
    }

    @Provide
    Arbitrary<byte[]> ipv4Bytes() {
        return Arbitraries.bytes().array(byte[].class).ofSize(4);
    }

    private static void checkCidr(byte[] rawNetwork, int prefix, byte[] other, int how) throws UnknownHostException {
        int bits = rawNetwork.length * 8;
        BigInteger all = BigInteger.ONE.shiftLeft(bits).subtract(BigInteger.ONE);
        BigInteger mask = all.xor(BigInteger.ONE.shiftLeft(bits - prefix).subtract(BigInteger.ONE));
        BigInteger net = new BigInteger(1, rawNetwork).and(mask);
        BigInteger hostBits = new BigInteger(1, other).andNot(mask);
        BigInteger candidate = switch (how) {
            case 0 -> new BigInteger(1, other);                                   // anywhere
            case 1 -> net.or(hostBits);                                           // inside
            case 2 -> net.subtract(BigInteger.ONE);                               // just below
            case 3 -> net.or(all.andNot(mask)).add(BigInteger.ONE);               // just above
            case 4 -> prefix == 0 ? net : net.flipBit(bits - prefix).or(hostBits); // first bit of the prefix flipped
            default -> net.or(all.andNot(mask));                                  // last address
        };
        candidate = candidate.and(all);  // wrap around the address space
        boolean expected = candidate.and(mask).equals(net);
        Statistics.label("inside").collect(expected);
        Statistics.label("inside").coverage(c -> {
            c.check(true).percentage(p -> p > 15);
            c.check(false).percentage(p -> p > 15);
        });

        InetAddress networkAddress = address(net, bits);
        InetAddress candidateAddress = address(candidate, bits);
        Cidr cidr = new Cidr(networkAddress, prefix);
        assertThat(cidr.contains(candidateAddress)).as("%s contains %s", cidr, candidateAddress).isEqualTo(expected);
        // An IPv4 range never contains an IPv6 address, nor the other way round.
        assertThat(cidr.contains(address(candidate.and(BigInteger.valueOf(0xffffffffL)), bits == 32 ? 128 : 32)))
                .isFalse();

        if (isMapped(networkAddress) || isMapped(candidateAddress)) {
            return;  // as text, these are IPv4 addresses: covered by the IPv4 property
        }
        // The same range written in an allowlist, deciding an IP literal.
        String text = InetAddresses.toAddrString(networkAddress) + "/" + prefix;
        Cidr parsed = Cidr.parse(text);
        assertThat(parsed).isEqualTo(cidr);
        ServerPolicy server = new ServerPolicy("s", "", Mode.ENFORCE, "s.yaml", Clients.NONE,
                List.of(new AllowRule("s.yaml#allow[0]", null, parsed, List.of(443), false)));
        Policy policy = new Policy(List.of(server), GlobalDeny.BUILT_IN, "v");
        String literal = bits == 32 ? InetAddresses.toAddrString(candidateAddress)
                : "[" + InetAddresses.toAddrString(candidateAddress) + "]";
        Decision d = policy.decide("s", literal, 443, n -> {
            throw new AssertionError("an IP literal is never resolved");
        });
        assertThat(d.allowed()).as("%s allows %s", text, literal).isEqualTo(expected);
        assertThat(d.reason()).isEqualTo(expected ? null : Reason.IP_LITERAL_NOT_ALLOWED);
        if (expected) {
            assertThat(d.address()).isEqualTo(candidateAddress);
            assertThat(d.rule()).isEqualTo("s.yaml#allow[0]");
        }
    }

    private static InetAddress address(BigInteger value, int bits) {
        byte[] raw = value.toByteArray();
        byte[] out = new byte[bits / 8];
        int n = Math.min(raw.length, out.length);
        System.arraycopy(raw, raw.length - n, out, out.length - n, n);
        return out.length == 16 ? Fixtures.v6(out) : Cidr.toAddress(out);
    }

    private static boolean isMapped(InetAddress a) {
        byte[] b = a.getAddress();
        return b.length == 16 && Arrays.equals(Arrays.copyOf(b, 12),
                new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff});
    }

    private static Host parseOrNull(String raw) {
        try {
            return Host.parse(raw);
        } catch (InvalidHostException e) {
            return null;
        }
    }
}
