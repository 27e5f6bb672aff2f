package io.egressd.policy;

import static io.egressd.policy.Fixtures.ips;
import static io.egressd.policy.Fixtures.rule;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hostile destinations, each decided the way a front decides it: the authority parsed with
 * {@link Destination#parseAuthority}, then {@link Policy#decide} with a fake resolver (no DNS,
 * no traffic: every address here is data). Policy: allowlists-valid/ plus a global deny of
 * {@code *.evil.example}, {@code blocked.slack.com} and {@code 10.20.99.0/24}.
 *
 * <ul>
 *   <li>slack (enforce): slack.com [443], *.slack.com [443], files.slack-edge.com [443, 8443]
 *   <li>postgres (enforce): db.internal.example.com [5432] private, cidr 10.20.0.0/16 and
 *       2001:db8:20::/48 [5432]
 *   <li>fetch (report): docs.python.org [443], developer.mozilla.org [443, 80]
 *   <li>local-dev (enforce): cidr 127.0.0.0/8 [8080], dev.example.net [8080]
 * </ul>
 */
class HostileDestinationTest {

    /** What a row expects: allowed (with rule and pinned address), allowed with would_deny, or denied. */
    private record Expect(boolean allowed, boolean wouldDeny, Reason reason, String rule, String address) {
        @Override
        public String toString() {
            return allowed ? (wouldDeny ? "would deny " + reason.code() : "allowed") + " via " + address
                    : "denied " + reason.code();
        }
    }

    private record Row(String why, String server, String destination, String answers, Expect expect) {
        @Override
        public String toString() {
            return why + ": " + server + " -> " + printable(destination) + " = " + expect;
        }
    }

    private static final String PUBLIC = "9.9.9.9";

    private static Policy policy;

    @BeforeAll
    static void load() {
        policy = Fixtures.validPolicy();
    }

    private static Expect allowed(String rule, String address) {
        return new Expect(true, false, null, rule, address);
    }

    private static Expect wouldDeny(Reason reason, String address) {
        return new Expect(true, true, reason, null, address);
    }

    private static Expect denied(Reason reason) {
        return new Expect(false, false, reason, null, null);
    }

    private static Expect denied(Reason reason, String rule) {
        return new Expect(false, false, reason, rule, null);
    }

    private static Row row(String why, String server, String destination, String answers, Expect expect) {
        return new Row(why, server, destination, answers, expect);
    }

    private static Row slack(String why, String destination, Expect expect) {
        return row(why, "slack", destination, null, expect);
    }

    private static final Expect INVALID = denied(Reason.INVALID_HOST);
    private static final Expect LITERAL = denied(Reason.IP_LITERAL_NOT_ALLOWED);
    private static final Expect NOT_ALLOWED = denied(Reason.HOST_NOT_ALLOWED);
    private static final Expect LOCAL_NAME = denied(Reason.DENIED_BY_GLOBAL_RULE);
    private static final Expect NO_ADDRESS = denied(Reason.ADDRESS_NOT_ALLOWED, rule("slack", 1));
    private static final Expect SLACK_COM = allowed(rule("slack", 0), PUBLIC);

    static Stream<Row> rows() {
        List<Row> r = new ArrayList<>();

        // Alternative IPv4 spellings: inet_aton would read them as 127.0.0.1; we never do.
        r.add(slack("decimal integer", "2130706433:443", INVALID));
        r.add(slack("hex and short form", "0x7f.1:443", INVALID));
        r.add(slack("hex integer", "0x7f000001:443", INVALID));
        r.add(slack("upper-case hex integer", "0X7F000001:443", INVALID));
        r.add(slack("octal integer", "017700000001:443", INVALID));
        r.add(slack("two-part short form", "127.1:443", INVALID));
        r.add(slack("three-part short form", "127.0.1:443", INVALID));
        r.add(slack("octal first part", "0177.0.0.1:443", INVALID));
        r.add(slack("leading zero in last part", "127.0.0.01:443", INVALID));
        r.add(slack("hex first part", "0x7f.0.0.1:443", INVALID));
        r.add(slack("five parts", "1.2.3.4.5:443", INVALID));
        r.add(slack("part above 255", "256.1.1.1:443", INVALID));
        r.add(slack("fullwidth digits", "\uFF11\uFF12\uFF17.0.0.1:443", INVALID));
        r.add(slack("fullwidth last digit", "127.0.0.\uFF11:443", INVALID));
        r.add(slack("numeric last label under a name", "slack.com.1:443", INVALID));
        r.add(slack("canonical loopback literal", "127.0.0.1:443", LITERAL));
        r.add(slack("IPv4 literal with one trailing dot is that literal", "1.2.3.4.:443", LITERAL));
        r.add(slack("public IPv4 literal still needs a cidr rule", PUBLIC + ":443", LITERAL));
        r.add(slack("unspecified", "0.0.0.0:443", LITERAL));
        r.add(slack("broadcast", "255.255.255.255:443", LITERAL));
        r.add(slack("metadata literal", "169.254.169.254:443", LITERAL));

        // IPv6 embeddings of loopback and metadata, and malformed IPv6.
        r.add(slack("IPv4-mapped loopback, dotted", "[::ffff:127.0.0.1]:443", LITERAL));
        r.add(slack("IPv4-mapped loopback, hex", "[::ffff:7f00:1]:443", LITERAL));
        r.add(slack("IPv4-compatible loopback", "[::127.0.0.1]:443", LITERAL));
        r.add(slack("NAT64 metadata", "[64:ff9b::a9fe:a9fe]:443", LITERAL));
        r.add(slack("6to4 metadata", "[2002:a9fe:a9fe::]:443", LITERAL));
        r.add(slack("Teredo client 127.0.0.1", "[2001:0:4136:e378:8000:63bf:80ff:fffe]:443", LITERAL));
        r.add(slack("AWS IPv6 metadata", "[fd00:ec2::254]:443", LITERAL));
        r.add(slack("IPv6 loopback", "[::1]:443", LITERAL));
        r.add(slack("IPv6 loopback, long form", "[0:0:0:0:0:0:0:1]:443", LITERAL));
        r.add(slack("IPv6 unspecified", "[::]:443", LITERAL));
        r.add(slack("unbracketed IPv6", "::1:443", INVALID));
        r.add(slack("unbracketed IPv6 with a port", "0:0:0:0:0:0:0:1:443", INVALID));
        r.add(slack("zone id, percent-encoded", "[fe80::1%25eth0]:443", INVALID));
        r.add(slack("zone id", "[fe80::1%eth0]:443", INVALID));
        r.add(slack("IPv4 in brackets", "[127.0.0.1]:443", INVALID));
        r.add(slack("no colon after the bracket", "[::1]443", INVALID));
        r.add(slack("unclosed bracket", "[::1:443", INVALID));
        r.add(slack("name in brackets", "[slack.com]:443", INVALID));
        r.add(slack("leading-zero IPv4 inside IPv6", "[::ffff:127.0.0.01]:443", INVALID));

        // Report mode may allow what steps 4-5 refuse, but never below the address floor.
        r.add(row("report: mapped loopback literal stays denied", "fetch", "[::ffff:127.0.0.1]:443", null,
                LITERAL));
        r.add(row("report: NAT64 metadata literal stays denied", "fetch", "[64:ff9b::a9fe:a9fe]:443", null,
                LITERAL));
        r.add(row("report: metadata literal stays denied", "fetch", "169.254.169.254:80", null, LITERAL));
        r.add(row("report: public literal is a would-deny", "fetch", PUBLIC + ":443", null,
                wouldDeny(Reason.IP_LITERAL_NOT_ALLOWED, PUBLIC)));
        r.add(row("report: private literal is a would-deny", "fetch", "10.1.2.3:443", null,
                wouldDeny(Reason.IP_LITERAL_NOT_ALLOWED, "10.1.2.3")));
        r.add(row("report: localhost is denied in every mode", "fetch", "localhost:443", null, LOCAL_NAME));
        r.add(row("report: global deny host", "fetch", "x.evil.example:443", null,
                denied(Reason.DENIED_BY_GLOBAL_RULE, "egressd.yaml#deny.hosts[0]")));
        r.add(row("report: host not allowed, public answer", "fetch", "attacker.example.org:443", PUBLIC,
                wouldDeny(Reason.HOST_NOT_ALLOWED, PUBLIC)));
        r.add(row("report: host not allowed, loopback answer", "fetch", "attacker.example.org:443", "127.0.0.1",
                NOT_ALLOWED));
        r.add(row("report: host not allowed, dials the public answer, not loopback", "fetch",
                "attacker.example.org:443", "127.0.0.1 " + PUBLIC, wouldDeny(Reason.HOST_NOT_ALLOWED, PUBLIC)));
        r.add(row("report: port not allowed", "fetch", "docs.python.org:8080", PUBLIC,
                new Expect(true, true, Reason.PORT_NOT_ALLOWED, rule("fetch", 0), PUBLIC)));
        r.add(row("report: metadata answer stays denied", "fetch", "docs.python.org:443", "169.254.169.254",
                denied(Reason.ADDRESS_NOT_ALLOWED, rule("fetch", 0))));
        r.add(row("report: private answer without private: true", "fetch", "docs.python.org:443", "10.1.1.1",
                new Expect(true, true, Reason.ADDRESS_NOT_ALLOWED, rule("fetch", 0), "10.1.1.1")));
        r.add(row("report: globally denied answer", "fetch", "docs.python.org:443", "10.20.99.5",
                denied(Reason.DENIED_BY_GLOBAL_RULE, "egressd.yaml#deny.cidrs[0]")));
        r.add(row("report: allowed outright", "fetch", "developer.mozilla.org:80", PUBLIC,
                allowed(rule("fetch", 1), PUBLIC)));

        // cidr rules and global deny cidrs, for literals.
        r.add(row("cidr rule", "postgres", "10.20.1.1:5432", null, allowed(rule("postgres", 1), "10.20.1.1")));
        r.add(row("cidr rule, other port", "postgres", "10.20.1.1:443", null, denied(Reason.PORT_NOT_ALLOWED)));
        r.add(row("IPv6 cidr rule", "postgres", "[2001:db8:20::5]:5432", null,
                allowed(rule("postgres", 2), "2001:db8:20::5")));
        r.add(row("outside the IPv6 cidr rule", "postgres", "[2001:db8:21::5]:5432", null, LITERAL));
        r.add(row("global deny cidr beats a cidr rule", "postgres", "10.20.99.1:5432", null,
                denied(Reason.DENIED_BY_GLOBAL_RULE, "egressd.yaml#deny.cidrs[0]")));
        r.add(row("global deny cidr through NAT64", "postgres", "[64:ff9b::a14:6301]:5432", null,
                denied(Reason.DENIED_BY_GLOBAL_RULE, "egressd.yaml#deny.cidrs[0]")));
        r.add(row("global deny cidr through 6to4", "postgres", "[2002:a14:6301::]:5432", null,
                denied(Reason.DENIED_BY_GLOBAL_RULE, "egressd.yaml#deny.cidrs[0]")));
        r.add(row("loopback through an explicit cidr rule", "local-dev", "127.0.0.1:8080", null,
                allowed(rule("local-dev", 0), "127.0.0.1")));
        r.add(row("mapped loopback literal is the IPv4 literal", "local-dev", "[::ffff:127.0.0.1]:8080", null,
                allowed(rule("local-dev", 0), "127.0.0.1")));
        r.add(row("loopback cidr rule, other port", "local-dev", "127.0.0.1:8081", null,
                denied(Reason.PORT_NOT_ALLOWED)));
        r.add(row("IPv4 cidr rule does not open IPv6 loopback", "local-dev", "[::1]:8080", null, LITERAL));

        // IDN look-alikes, Unicode full stops, fullwidth letters.
        r.add(slack("Cyrillic a look-alike", "sl\u0430ck.com:443", NOT_ALLOWED));
        r.add(slack("look-alike in its xn-- form", "xn--slck-63d.com:443", NOT_ALLOWED));
        r.add(row("ideographic full stop", "slack", "slack\u3002com:443", PUBLIC, SLACK_COM));
        r.add(row("fullwidth full stop", "slack", "slack\uFF0Ecom:443", PUBLIC, SLACK_COM));
        r.add(row("halfwidth ideographic full stop", "slack", "slack\uFF61com:443", PUBLIC, SLACK_COM));
        r.add(row("Unicode full stop as the trailing dot", "slack", "slack.com\u3002:443", PUBLIC, SLACK_COM));
        r.add(row("fullwidth letters", "slack", "\uFF53\uFF4C\uFF41\uFF43\uFF4B.com:443", PUBLIC, SLACK_COM));
        r.add(row("zero-width space is mapped away by IDNA", "slack", "sla\u200Bck.com:443", PUBLIC, SLACK_COM));
        r.add(slack("one dot leader is not a label separator", "slack\u2024com:443", INVALID));
        r.add(slack("fullwidth commercial at", "user\uFF20slack.com:443", INVALID));
        r.add(slack("ideographic full stop then trailing dot", "slack.com\u3002.:443", INVALID));
        r.add(slack("localhost with an ideographic full stop", "localhost\u3002:443", LOCAL_NAME));
        r.add(slack("fullwidth LOCALHOST", "\uFF2C\uFF2F\uFF23\uFF21\uFF2C\uFF28\uFF2F\uFF33\uFF34:443",
                LOCAL_NAME));

        // Userinfo, percent escapes, backslash, NUL, whitespace, URL syntax.
        r.add(slack("userinfo", "user@slack.com:443", INVALID));
        r.add(slack("userinfo with password", "user:pass@slack.com:443", INVALID));
        r.add(slack("userinfo pointing elsewhere", "slack.com@evil.example:443", INVALID));
        r.add(slack("percent-encoded dot", "slack.com%2eevil.com:443", INVALID));
        r.add(slack("percent-encoded dot inside", "slack%2ecom:443", INVALID));
        r.add(slack("percent-encoded NUL", "slack.com%00.evil.com:443", INVALID));
        r.add(slack("backslash", "slack.com\\@evil.com:443", INVALID));
        r.add(slack("trailing backslash", "slack.com\\:443", INVALID));
        r.add(slack("NUL byte", "slack.com\u0000.evil.com:443", INVALID));
        r.add(slack("leading space", " slack.com:443", INVALID));
        r.add(slack("tab", "slack.com\t:443", INVALID));
        r.add(slack("space inside", "slack .com:443", INVALID));
        r.add(slack("CRLF header injection", "slack.com\r\nHost: evil.com:443", INVALID));
        r.add(slack("no-break space", "slack.com\u00A0:443", INVALID));
        r.add(slack("ideographic space", "slack.com\u3000:443", INVALID));
        r.add(slack("path", "slack.com/evil:443", INVALID));
        r.add(slack("fragment", "slack.com#@evil.com:443", INVALID));
        r.add(slack("query", "slack.com?x:443", INVALID));

        // Local and metadata names: always denied, whatever the allowlist says.
        r.add(slack("localhost", "localhost:443", denied(Reason.DENIED_BY_GLOBAL_RULE, "builtin:localhost")));
        r.add(slack("LOCALHOST with trailing dot", "LOCALHOST.:443", LOCAL_NAME));
        r.add(slack("subdomain of localhost", "foo.localhost:443",
                denied(Reason.DENIED_BY_GLOBAL_RULE, "builtin:*.localhost")));
        r.add(slack("metadata", "metadata:443", LOCAL_NAME));
        r.add(slack("GCP metadata", "metadata.google.internal:443",
                denied(Reason.DENIED_BY_GLOBAL_RULE, "builtin:metadata.google.internal")));
        r.add(slack("GCP metadata, shouting", "METADATA.GOOGLE.INTERNAL.:443", LOCAL_NAME));
        r.add(slack("mDNS name", "x.local:443", LOCAL_NAME));
        r.add(slack("reverse zone", "1.0.0.127.in-addr.arpa:443", LOCAL_NAME));
        r.add(slack("IPv6 reverse zone", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa:443",
                LOCAL_NAME));
        r.add(slack("global deny host beats *.slack.com", "blocked.slack.com:443",
                denied(Reason.DENIED_BY_GLOBAL_RULE, "egressd.yaml#deny.hosts[1]")));

        // Suffix tricks, trailing dots, empty and over-long labels.
        r.add(slack("suffix without a label boundary", "evilslack.com:443", NOT_ALLOWED));
        r.add(slack("allowed name as a prefix", "slack.com.evil.com:443", NOT_ALLOWED));
        r.add(slack("one extra letter", "xslack.com:443", NOT_ALLOWED));
        r.add(slack("other TLD", "slack.co:443", NOT_ALLOWED));
        r.add(slack("allowed name under an unlisted TLD", "slack.com.evil:443", NOT_ALLOWED));
        r.add(row("exact name", "slack", "slack.com:443", PUBLIC, SLACK_COM));
        r.add(row("upper case and trailing dot", "slack", "SLACK.COM.:443", PUBLIC, SLACK_COM));
        r.add(row("trailing dot", "slack", "slack.com.:443", PUBLIC, SLACK_COM));
        r.add(row("wildcard, one label", "slack", "api.slack.com:443", PUBLIC, allowed(rule("slack", 1), PUBLIC)));
        r.add(row("wildcard, two labels", "slack", "a.b.slack.com:443", PUBLIC,
                allowed(rule("slack", 1), PUBLIC)));
        r.add(row("63-character label", "slack", "a".repeat(63) + ".slack.com:443", PUBLIC,
                allowed(rule("slack", 1), PUBLIC)));
        r.add(slack("64-character label", "a".repeat(64) + ".slack.com:443", INVALID));
        r.add(slack("name longer than 253", ("a".repeat(63) + ".").repeat(4) + "slack.com:443", INVALID));
        r.add(slack("two trailing dots", "slack.com..:443", INVALID));
        r.add(slack("empty label", "slack..com:443", INVALID));
        r.add(slack("leading dot", ".slack.com:443", INVALID));
        r.add(slack("only a dot", ".:443", INVALID));
        r.add(slack("empty host", ":443", INVALID));
        r.add(slack("label starting with '-'", "-api.slack.com:443", INVALID));
        r.add(slack("wildcard in the request", "*.slack.com:443", INVALID));

        // Ports: decimal, 1-65535, no leading zeros, always written.
        r.add(slack("port 0", "slack.com:0", INVALID));
        r.add(slack("port 65536", "slack.com:65536", INVALID));
        r.add(slack("port -1", "slack.com:-1", INVALID));
        r.add(slack("port with a leading zero", "slack.com:0443", INVALID));
        r.add(slack("port with a plus sign", "slack.com:+443", INVALID));
        r.add(slack("fullwidth port digits", "slack.com:\uFF14\uFF14\uFF13", INVALID));
        r.add(slack("hex port", "slack.com:0x1bb", INVALID));
        r.add(slack("no port", "slack.com", INVALID));
        r.add(slack("empty port", "slack.com:", INVALID));
        r.add(slack("two ports", "slack.com:443:443", INVALID));
        r.add(slack("port not listed", "slack.com:80", denied(Reason.PORT_NOT_ALLOWED, rule("slack", 0))));
        r.add(slack("port listed only for another host", "slack.com:8443",
                denied(Reason.PORT_NOT_ALLOWED, rule("slack", 0))));
        r.add(row("second listed port", "slack", "files.slack-edge.com:8443", PUBLIC,
                allowed(rule("slack", 2), PUBLIC)));

        // Resolver answers: rebinding, SSRF floor, private: true, pinning.
        r.add(row("rebinding: public then loopback pins the public address", "slack", "api.slack.com:443",
                "9.9.9.12 127.0.0.1", allowed(rule("slack", 1), "9.9.9.12")));
        r.add(row("rebinding: loopback then public pins the public address", "slack", "api.slack.com:443",
                "127.0.0.1 9.9.9.13", allowed(rule("slack", 1), "9.9.9.13")));
        r.add(row("resolves to loopback only", "slack", "api.slack.com:443", "127.0.0.1", NO_ADDRESS));
        r.add(row("resolves to metadata", "slack", "api.slack.com:443", "169.254.169.254", NO_ADDRESS));
        r.add(row("resolves to AWS IPv6 metadata", "slack", "api.slack.com:443", "fd00:ec2::254", NO_ADDRESS));
        r.add(row("resolves to Alibaba metadata", "slack", "api.slack.com:443", "100.100.100.200", NO_ADDRESS));
        r.add(row("resolves to IPv6 loopback and mapped loopback", "slack", "api.slack.com:443",
                "::1 ::ffff:127.0.0.1", NO_ADDRESS));
        r.add(row("resolves to NAT64 metadata", "slack", "api.slack.com:443", "64:ff9b::a9fe:a9fe", NO_ADDRESS));
        r.add(row("resolves to Teredo loopback", "slack", "api.slack.com:443",
                "2001:0:4136:e378:8000:63bf:80ff:fffe", NO_ADDRESS));
        r.add(row("resolves to a mapped loopback kept as Inet6Address", "slack", "api.slack.com:443",
                "mapped:127.0.0.1", NO_ADDRESS));
        r.add(row("resolves to private without private: true", "slack", "api.slack.com:443", "10.1.2.3",
                NO_ADDRESS));
        r.add(row("resolves to a documentation address", "slack", "api.slack.com:443", "192.0.2.1", NO_ADDRESS));
        r.add(row("resolves to multicast", "slack", "api.slack.com:443", "224.0.0.1", NO_ADDRESS));
        r.add(row("resolves to broadcast", "slack", "api.slack.com:443", "255.255.255.255", NO_ADDRESS));
        r.add(row("resolves to reserved 240/4", "slack", "api.slack.com:443", "240.0.0.1", NO_ADDRESS));
        r.add(row("resolves to benchmarking 198.18/15", "slack", "api.slack.com:443", "198.18.0.1", NO_ADDRESS));
        r.add(row("resolves to IPv6 unspecified", "slack", "api.slack.com:443", "::", NO_ADDRESS));
        r.add(row("resolves to IPv6 link-local", "slack", "api.slack.com:443", "fe80::1", NO_ADDRESS));
        r.add(row("resolves to CGNAT without private: true", "slack", "api.slack.com:443", "100.64.0.1",
                NO_ADDRESS));
        r.add(row("resolves to Teredo-wrapped metadata", "slack", "api.slack.com:443",
                "2001:0:4136:e378:8000:63bf:5601:5601", NO_ADDRESS));
        r.add(row("resolves to IPv4-compatible metadata", "slack", "api.slack.com:443", "::a9fe:a9fe",
                NO_ADDRESS));
        r.add(row("resolves to IPv4-compatible loopback", "slack", "api.slack.com:443", "::7f00:1", NO_ADDRESS));
        r.add(row("resolves to 6to4-wrapped loopback", "slack", "api.slack.com:443", "2002:7f00:1::1",
                NO_ADDRESS));
        r.add(row("private: true does not open Teredo-wrapped metadata", "postgres", "db.internal.example.com:5432",
                "2001:0:4136:e378:8000:63bf:5601:5601", denied(Reason.ADDRESS_NOT_ALLOWED, rule("postgres", 0))));
        r.add(row("private: true opens a Teredo-wrapped private address", "postgres",
                "db.internal.example.com:5432", "2001:0:4136:e378:8000:63bf:f5fe:fefe",
                allowed(rule("postgres", 0), "2001:0:4136:e378:8000:63bf:f5fe:fefe")));
        r.add(row("report: CGNAT without private: true is a would-deny", "fetch", "docs.python.org:443",
                "100.64.0.1", new Expect(true, true, Reason.ADDRESS_NOT_ALLOWED, rule("fetch", 0), "100.64.0.1")));
        r.add(row("report: reserved 240/4 stays denied", "fetch", "docs.python.org:443", "240.0.0.1",
                denied(Reason.ADDRESS_NOT_ALLOWED, rule("fetch", 0))));
        r.add(row("report: IPv4-compatible loopback stays denied", "fetch", "docs.python.org:443", "::7f00:1",
                denied(Reason.ADDRESS_NOT_ALLOWED, rule("fetch", 0))));
        r.add(row("resolves to public IPv6", "slack", "api.slack.com:443", "2001:4860:4860::8888",
                allowed(rule("slack", 1), "2001:4860:4860::8888")));
        r.add(row("private: true", "postgres", "db.internal.example.com:5432", "10.1.2.3",
                allowed(rule("postgres", 0), "10.1.2.3")));
        r.add(row("private: true, unique local IPv6", "postgres", "db.internal.example.com:5432", "fd12::1",
                allowed(rule("postgres", 0), "fd12::1")));
        r.add(row("private: true, CGNAT", "postgres", "db.internal.example.com:5432", "100.64.1.1",
                allowed(rule("postgres", 0), "100.64.1.1")));
        r.add(row("private: true does not open loopback", "postgres", "db.internal.example.com:5432",
                "127.0.0.1", denied(Reason.ADDRESS_NOT_ALLOWED, rule("postgres", 0))));
        r.add(row("private: true does not open metadata", "postgres", "db.internal.example.com:5432",
                "169.254.169.254", denied(Reason.ADDRESS_NOT_ALLOWED, rule("postgres", 0))));
        r.add(row("answer inside a cidr rule", "postgres", "db.internal.example.com:5432", "10.20.3.4",
                allowed(rule("postgres", 1), "10.20.3.4")));
        r.add(row("answer in a global deny cidr", "postgres", "db.internal.example.com:5432", "10.20.99.5",
                denied(Reason.DENIED_BY_GLOBAL_RULE, "egressd.yaml#deny.cidrs[0]")));
        r.add(row("mapped answer kept as Inet6Address in a global deny cidr", "postgres",
                "db.internal.example.com:5432", "mapped:10.20.99.5",
                denied(Reason.DENIED_BY_GLOBAL_RULE, "egressd.yaml#deny.cidrs[0]")));
        r.add(row("globally denied answer skipped for the next one", "postgres", "db.internal.example.com:5432",
                "10.20.99.5 10.1.2.3", allowed(rule("postgres", 0), "10.1.2.3")));
        r.add(row("private host rule, other port", "postgres", "db.internal.example.com:443", null,
                denied(Reason.PORT_NOT_ALLOWED, rule("postgres", 0))));
        r.add(row("name resolving to loopback through a cidr rule", "local-dev", "dev.example.net:8080",
                "127.0.0.1", allowed(rule("local-dev", 0), "127.0.0.1")));

        // Step 1 before everything.
        r.add(row("unknown server", "nobody", "slack.com:443", null, denied(Reason.UNKNOWN_CLIENT)));
        return r.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void decides(Row row) throws UnknownHostException {
        Fixtures.FakeResolver resolver = new Fixtures.FakeResolver(row.answers == null ? null : ips(row.answers));
        Decision d = decide(row.server, row.destination, resolver);

        Expect e = row.expect;
        assertThat(d.allowed()).as("allowed").isEqualTo(e.allowed);
        assertThat(d.wouldDeny()).as("would_deny").isEqualTo(e.wouldDeny);
        assertThat(d.reason()).as("reason").isEqualTo(e.reason);
        if (e.rule != null) {
            assertThat(d.rule()).as("rule").isEqualTo(e.rule);
        }
        if (e.address != null) {
            assertThat(d.address()).as("address to dial").isEqualTo(Fixtures.ip(e.address));
        }
        assertConsistent(d);
        if (row.answers != null) {
            assertThat(resolver.asked).as("one lookup, of the canonical name").hasSize(1);
        }
    }

    @Test
    void theTableIsLargeAndCoversEveryReason() {
        List<Row> all = rows().toList();
        assertThat(all).hasSizeGreaterThanOrEqualTo(60);
        assertThat(all.stream().map(r -> r.expect.reason).filter(r -> r != null).distinct())
                .contains(Reason.UNKNOWN_CLIENT, Reason.INVALID_HOST, Reason.DENIED_BY_GLOBAL_RULE,
                        Reason.HOST_NOT_ALLOWED, Reason.PORT_NOT_ALLOWED, Reason.ADDRESS_NOT_ALLOWED,
                        Reason.IP_LITERAL_NOT_ALLOWED);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, 65536, 70000, Integer.MIN_VALUE, Integer.MAX_VALUE})
    void portsOutsideTheRangeAreInvalidWhenPassedAsNumbers(int port) throws UnknownHostException {
        Fixtures.FakeResolver resolver = new Fixtures.FakeResolver(null);
        Decision d = policy.decide("slack", "slack.com", port, resolver);
        assertThat(d.allowed()).isFalse();
        assertThat(d.reason()).isEqualTo(Reason.INVALID_HOST);
        // Report mode cannot turn an invalid destination into a would-deny.
        Decision report = policy.decide("fetch", "docs.python.org", port, resolver);
        assertThat(report.allowed()).isFalse();
        assertThat(report.reason()).isEqualTo(Reason.INVALID_HOST);
        // Identity comes first: an unknown client is told it is unknown, whatever the port.
        assertThat(policy.decide("nobody", "slack.com", port, resolver).reason()).isEqualTo(Reason.UNKNOWN_CLIENT);
        assertThat(policy.decide(null, "slack.com", port, resolver).reason()).isEqualTo(Reason.UNKNOWN_CLIENT);
    }

    @Test
    void portBoundariesAreAllowedWhenListed() throws Exception {
        Policy p = new Policy(List.of(new ServerPolicy("edge", "", Mode.ENFORCE, "edge.yaml", Clients.NONE,
                List.of(new AllowRule("edge.yaml#allow[0]", HostPattern.parse("edge.example.com"), null,
                        List.of(1, 65535), false)))), GlobalDeny.BUILT_IN, "v1");
        NameResolver resolver = name -> List.of(Fixtures.ip(PUBLIC));
        assertThat(p.decide("edge", "edge.example.com", 1, resolver).allowed()).isTrue();
        assertThat(p.decide("edge", "edge.example.com", 65535, resolver).allowed()).isTrue();
        assertThat(p.decide("edge", "edge.example.com", 2, resolver).reason()).isEqualTo(Reason.PORT_NOT_ALLOWED);
        assertThat(p.decide("edge", "edge.example.com:1", 1, resolver).reason()).isEqualTo(Reason.INVALID_HOST);
    }

    /** A decision's fields agree with each other, whatever it decided. */
    static void assertConsistent(Decision d) {
        if (d.allowed()) {
            assertThat(d.address()).as("an allowed connection has an address to dial").isNotNull();
            if (d.wouldDeny()) {
                assertThat(d.mode()).isEqualTo(Mode.REPORT);
                assertThat(d.reason()).isNotNull().matches(Reason::reportable, "reportable");
            } else {
                assertThat(d.reason()).isNull();
                assertThat(d.rule()).as("an allowed connection names its rule").isNotNull();
            }
        } else {
            assertThat(d.address()).as("a refusal has nothing to dial").isNull();
            assertThat(d.wouldDeny()).isFalse();
            assertThat(d.reason()).isNotNull();
        }
    }

    static Decision decide(String server, String destination, NameResolver resolver) throws UnknownHostException {
        Destination parsed;
        try {
            parsed = Destination.parseAuthority(destination);
        } catch (InvalidHostException e) {
            // What a front does with an authority it cannot read (after identifying the client).
            Decision d = policy.refusal(Reason.INVALID_HOST, server, destination, 0);
            assertThat(d.mode()).isNotNull();
            return d;
        }
        return policy.decide(server, parsed.host(), parsed.port(), resolver);
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            b.append(c < 0x20 || c > 0x7e ? String.format("\\u%04x", (int) c) : String.valueOf(c));
        }
        return b.toString();
    }
}
