package io.egressd.policy;

import com.google.common.net.InetAddresses;
import com.google.common.net.InternetDomainName;

/**
 * A {@code host} entry: an exact name, or {@code *.suffix} for every name with at least one
 * more label than {@code suffix}, on a label boundary ({@code evilslack.com} never matches
 * {@code *.slack.com}, and neither does {@code slack.com}).
 */
public record HostPattern(String name, boolean wildcard) {

    /**
     * Parses and validates a pattern as an allowlist or global deny list writes it.
     *
     * @throws IllegalArgumentException saying what is wrong and what to write instead
     */
    public static HostPattern parse(String text) {
        if (text.isEmpty()) {
            throw new IllegalArgumentException("empty host; write a name such as \"api.example.com\"");
        }
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) > 0x7f) {
                throw new IllegalArgumentException("\"" + text + "\" is not ASCII; write its IDNA form"
                        + suggestAscii(text));
            }
        }
        boolean wildcard = text.startsWith("*.");
        String rest = wildcard ? text.substring(2) : text;
        if (text.equals("*")) {
            throw new IllegalArgumentException("\"*\" would allow every host; list the hosts this server needs"
                    + " (or use mode: report to find them)");
        }
        if (rest.indexOf('*') >= 0) {
            throw new IllegalArgumentException("\"" + text + "\" has '*' where only a leading \"*.\" is allowed");
        }
        Host host;
        try {
            host = Host.parse(rest);
        } catch (InvalidHostException e) {
            if (rest.indexOf(':') >= 0 && rest.charAt(0) != '[') {
                // An IPv6 address written as YAML usually writes it: unbracketed.
                try {
                    host = Host.parse("[" + rest + "]");
                } catch (InvalidHostException notIpv6) {
                    host = null;
                }
                if (host instanceof Host.Ip ip) {
                    throw ipLiteral(text, ip);
                }
            }
            throw new IllegalArgumentException("\"" + text + "\" is not a valid host name: " + e.getMessage()
                    + hintFor(rest));
        }
        if (host instanceof Host.Ip ip) {
            throw ipLiteral(text, ip);
        }
        String name = ((Host.Name) host).value();
        if (wildcard) {
            checkWildcardSuffix(text, name);
        }
        return new HostPattern(name, wildcard);
    }

    /** What to write instead, for the ways a URL or an authority ends up in {@code host}. */
    private static String hintFor(String rest) {
        int scheme = rest.indexOf("://");
        if (scheme > 0) {
            String authority = rest.substring(scheme + 3).split("[/?#]", 2)[0];
            return "; write only the host name (\"" + authority + "\" with its port under ports)";
        }
        int colon = rest.lastIndexOf(':');
        if (colon > 0 && rest.indexOf(':') == colon && colon < rest.length() - 1
                && rest.substring(colon + 1).chars().allMatch(c -> c >= '0' && c <= '9')) {
            return "; write host: " + rest.substring(0, colon) + " and ports: [" + rest.substring(colon + 1) + "]";
        }
        return "";
    }

    private static IllegalArgumentException ipLiteral(String text, Host.Ip ip) {
        boolean v4 = ip.address().getAddress().length == 4;
        return new IllegalArgumentException("\"" + text + "\" is an IP literal; write it as a cidr rule: cidr: "
                + InetAddresses.toAddrString(ip.address()) + (v4 ? "/32" : "/128"));
    }

    private static void checkWildcardSuffix(String text, String suffix) {
        if (suffix.indexOf('.') < 0) {
            throw new IllegalArgumentException("\"" + text + "\" is a wildcard over a whole top-level domain;"
                    + " name a registered domain, e.g. \"*.example." + suffix + "\"");
        }
        InternetDomainName domain;
        try {
            domain = InternetDomainName.from(suffix);
        } catch (IllegalArgumentException e) {
            // Names with '_' are valid DNS names but not hostnames to Guava; they are never suffixes.
            return;
        }
        if (domain.isPublicSuffix()) {
            throw new IllegalArgumentException("\"" + text + "\" is a wildcard over the public suffix \"" + suffix
                    + "\"; name a registered domain, e.g. \"*.example." + suffix + "\"");
        }
    }

    private static String suggestAscii(String text) {
        try {
            String prefix = text.startsWith("*.") ? "*." : "";
            String rest = prefix.isEmpty() ? text : text.substring(2);
            Host host = Host.parse(rest);
            return ", e.g. \"" + prefix + host + "\"";
        } catch (InvalidHostException | RuntimeException e) {
            return " (xn--...)";
        }
    }

    /** Whether a canonical name matches. */
    public boolean matches(String canonicalName) {
        if (!wildcard) {
            return name.equals(canonicalName);
        }
        int extra = canonicalName.length() - name.length();
        return extra >= 2 && canonicalName.endsWith(name) && canonicalName.charAt(extra - 1) == '.';
    }

    @Override
    public String toString() {
        return wildcard ? "*." + name : name;
    }
}
