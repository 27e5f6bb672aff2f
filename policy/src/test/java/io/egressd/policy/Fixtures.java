package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.common.net.InetAddresses;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Test fixtures: the allowlists under src/test/resources, addresses as data, fake resolvers. */
final class Fixtures {

    private Fixtures() {
    }

    /** A directory or file under src/test/resources, as the absolute path the loader reports. */
    static Path resource(String name) {
        try {
            return Path.of(Fixtures.class.getResource("/" + name).toURI()).toAbsolutePath();
        } catch (URISyntaxException | NullPointerException e) {
            throw new AssertionError("missing test resource " + name, e);
        }
    }

    /** The global deny list the decision tests run with, as egressd.yaml would write it. */
    static GlobalDeny globalDeny() {
        return GlobalDeny.of(
                List.of(HostPattern.parse("*.evil.example"), HostPattern.parse("blocked.slack.com")),
                List.of(Cidr.parse("10.20.99.0/24")),
                "egressd.yaml");
    }

    /** allowlists-valid/ (slack, postgres, fetch in report mode, local-dev) with {@link #globalDeny()}. */
    static Policy validPolicy() {
        try {
            return AllowlistLoader.load(resource("allowlists-valid"), globalDeny());
        } catch (PolicyException e) {
            throw new AssertionError("allowlists-valid must load:\n" + e.getMessage(), e);
        }
    }

    /** The id a rule of allowlists-valid/ has in decisions, e.g. allowlists-valid/slack.yaml#allow[1]. */
    static String rule(String server, int index) {
        return "allowlists-valid/" + server + ".yaml#allow[" + index + "]";
    }

    /**
     * An address from its literal, never touching DNS. {@code mapped:a.b.c.d} is the IPv4-mapped
     * IPv6 address kept as an {@link Inet6Address}, as {@code Inet6Address.getByAddress} makes it.
     */
    static InetAddress ip(String literal) {
        if (literal.startsWith("mapped:")) {
            byte[] v4 = InetAddresses.forString(literal.substring("mapped:".length())).getAddress();
            byte[] b = new byte[16];
            b[10] = (byte) 0xff;
            b[11] = (byte) 0xff;
            System.arraycopy(v4, 0, b, 12, 4);
            return v6(b);
        }
        return InetAddresses.forString(literal);
    }

    /** Sixteen bytes as an {@link Inet6Address}, even when they are an IPv4-mapped address. */
    static Inet6Address v6(byte[] bytes) {
        try {
            return Inet6Address.getByAddress(null, bytes, (NetworkInterface) null);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    /** Space-separated literals, see {@link #ip}. */
    static List<InetAddress> ips(String literals) {
        List<InetAddress> out = new ArrayList<>();
        for (String s : literals.trim().split("\\s+")) {
            out.add(ip(s));
        }
        return out;
    }

    /** A resolver that answers every name with {@code answers} and records what it was asked. */
    static final class FakeResolver implements NameResolver {
        private final List<InetAddress> answers;
        final List<String> asked = new ArrayList<>();

        FakeResolver(List<InetAddress> answers) {
            this.answers = answers;
        }

        @Override
        public List<InetAddress> resolve(String name) throws UnknownHostException {
            asked.add(name);
            // The engine resolves only canonical names: lower case, no trailing dot, ASCII.
            assertThat(name).isEqualTo(name.toLowerCase(Locale.ROOT)).doesNotEndWith(".")
                    .matches("[a-z0-9._-]+");
            if (answers == null) {
                throw new AssertionError("resolver asked for " + name
                        + ", but this destination must be decided without a lookup");
            }
            return answers;
        }
    }
}
