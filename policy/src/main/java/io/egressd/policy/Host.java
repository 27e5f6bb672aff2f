package io.egressd.policy;

import java.net.IDN;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;

/**
 * A canonical destination host: a lower-case ASCII DNS name or an IP address.
 *
 * <p>{@link #parse} is the one canonicalizer for proxy requests, DNS question names and
 * allowlist entries, so that what a rule says and what a client asks for are compared in
 * the same form. It rejects rather than repairs: any spelling a resolver or an HTTP library
 * might read differently from us is {@code invalid_host}.
 */
public sealed interface Host {

    int MAX_NAME_LENGTH = 253;
    int MAX_LABEL_LENGTH = 63;

    /** A DNS name: labels of {@code [a-z0-9_-]}, no trailing dot, at most 253 characters. */
    record Name(String value) implements Host {
        @Override
        public String toString() {
            return value;
        }
    }

    /** An IP literal, written {@code 192.0.2.1} or {@code [2001:db8::1]}. */
    record Ip(InetAddress address) implements Host {
        @Override
        public String toString() {
            // RFC 5952 form ([::1], not [0:0:0:0:0:0:0:1]): what people grep audit logs for.
            String text = com.google.common.net.InetAddresses.toAddrString(address);
            return address instanceof Inet6Address ? "[" + text + "]" : text;
        }
    }

    /**
     * Canonicalizes a host as written in a request, a DNS question or an allowlist.
     *
     * @throws InvalidHostException with a message saying what is wrong with it
     */
    static Host parse(String raw) throws InvalidHostException {
        if (raw == null || raw.isEmpty()) {
            throw new InvalidHostException("empty host");
        }
        if (raw.length() > 1024) {
            throw new InvalidHostException("host longer than 1024 characters");
        }
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c > ' ' && c < 0x7f && c != '@' && c != '%' && c != '\\') {
                continue; // printable ASCII other than the three below: the common case, decided at once
            }
            if (c == '@') {
                throw new InvalidHostException("host contains userinfo ('@')");
            }
            if (c == '%') {
                throw new InvalidHostException("host contains a '%' escape or zone id");
            }
            if (c == '\\') {
                throw new InvalidHostException("host contains a backslash");
            }
            if (c == 0) {
                throw new InvalidHostException("host contains a NUL byte");
            }
            if (Character.isWhitespace(c) || Character.isSpaceChar(c) || Character.isISOControl(c)) {
                throw new InvalidHostException("host contains whitespace or a control character");
            }
        }
        if (raw.charAt(0) == '[') {
            return parseBracketedIpv6(raw);
        }
        // The three Unicode full stops are label separators to IDNA (and so to browsers
        // and resolvers); normalize them first so "example.com\u3002" has one trailing dot.
        String dotted = raw.replace('\u3002', '.').replace('\uFF0E', '.').replace('\uFF61', '.');
        if (dotted.endsWith(".")) {
            dotted = dotted.substring(0, dotted.length() - 1);
        }
        if (dotted.isEmpty()) {
            throw new InvalidHostException("empty host");
        }
        Inet4Address v4 = parseStrictIpv4(dotted);
        if (v4 != null) {
            return new Ip(v4);
        }
        return new Name(canonicalName(dotted));
    }

    /** Canonicalizes a name that must not be an IP literal (DNS question names, rule hosts). */
    static Name parseName(String raw) throws InvalidHostException {
        Host host = parse(raw);
        if (host instanceof Name name) {
            return name;
        }
        throw new InvalidHostException("IP literal where a name is expected: " + host);
    }

    private static String canonicalName(String dotted) throws InvalidHostException {
        // Every DNS question and most request hosts are canonical already: say so in one pass.
        return isCanonical(dotted) ? dotted : canonicalize(dotted);
    }

    /**
     * Whether {@code dotted} is a name {@link #canonicalize} would return unchanged: lower-case
     * ASCII labels of letters, digits, '-' and '_', none empty, none longer than 63 or starting or
     * ending with '-', at most 253 characters, the last label not numeric. Anything else (upper
     * case, IDN, every error) takes the full path, which says what is wrong.
     */
    static boolean isCanonical(String dotted) {
        int length = dotted.length();
        if (length > MAX_NAME_LENGTH) {
            return false;
        }
        int labelStart = 0;
        for (int i = 0; i <= length; i++) {
            char c = i == length ? '.' : dotted.charAt(i);
            if (c == '.') {
                int labelLength = i - labelStart;
                if (labelLength == 0 || labelLength > MAX_LABEL_LENGTH
                        || dotted.charAt(labelStart) == '-' || dotted.charAt(i - 1) == '-') {
                    return false;
                }
                labelStart = i + 1;
            } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
                return false;
            }
        }
        int last = dotted.lastIndexOf('.') + 1;
        return !isNumericLabel(dotted.substring(last));
    }

    /** The full path: IDN labels to ASCII, lower case, and an error naming the first problem. */
    static String canonicalize(String dotted) throws InvalidHostException {
        String[] labels = dotted.split("\\.", -1);
        StringBuilder out = new StringBuilder(dotted.length());
        for (int i = 0; i < labels.length; i++) {
            String label = labels[i];
            if (label.isEmpty()) {
                throw new InvalidHostException("empty label in host");
            }
            String ascii = toAsciiLabel(label).toLowerCase(Locale.ROOT);
            checkLabel(ascii);
            if (i > 0) {
                out.append('.');
            }
            out.append(ascii);
        }
        String name = out.toString();
        if (name.length() > MAX_NAME_LENGTH) {
            throw new InvalidHostException("host longer than 253 characters");
        }
        String last = labels.length == 1 ? name : name.substring(name.lastIndexOf('.') + 1);
        if (isNumericLabel(last)) {
            // 2130706433, 0x7f.1, 127.1, 0177.0.0.1: inet_aton would read these as IPv4.
            throw new InvalidHostException(
                    "host looks like a non-standard IPv4 spelling; write four decimal parts such as 192.0.2.1");
        }
        return name;
    }

    private static String toAsciiLabel(String label) throws InvalidHostException {
        boolean ascii = true;
        for (int i = 0; i < label.length(); i++) {
            if (label.charAt(i) > 0x7f) {
                ascii = false;
                break;
            }
        }
        if (ascii) {
            return label;
        }
        try {
            String converted = IDN.toASCII(label, IDN.USE_STD3_ASCII_RULES);
            if (converted.isEmpty() || converted.indexOf('.') >= 0) {
                throw new InvalidHostException("internationalized label does not convert to one ASCII label");
            }
            return converted;
        } catch (IllegalArgumentException e) {
            throw new InvalidHostException("internationalized label is not valid IDNA: " + e.getMessage());
        }
    }

    private static void checkLabel(String label) throws InvalidHostException {
        if (label.length() > MAX_LABEL_LENGTH) {
            throw new InvalidHostException("label longer than 63 characters");
        }
        for (int i = 0; i < label.length(); i++) {
            char c = label.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
            if (!ok) {
                throw new InvalidHostException("host contains '" + printable(c) + "', which no DNS name has");
            }
        }
        if (label.charAt(0) == '-' || label.charAt(label.length() - 1) == '-') {
            throw new InvalidHostException("label starts or ends with '-'");
        }
    }

    private static boolean isNumericLabel(String label) {
        if (label.startsWith("0x")) {
            return true;
        }
        for (int i = 0; i < label.length(); i++) {
            char c = label.charAt(i);
            if (c < '0' || c > '9') {
                return false;
            }
        }
        return true;
    }

    /** Four decimal parts 0-255, no leading zeros, nothing else; null when not of that form. */
    private static Inet4Address parseStrictIpv4(String s) throws InvalidHostException {
        byte[] bytes = new byte[4];
        int part = 0;
        int i = 0;
        int n = s.length();
        while (part < 4) {
            int start = i;
            int value = 0;
            while (i < n && s.charAt(i) >= '0' && s.charAt(i) <= '9' && i - start < 4) {
                value = value * 10 + (s.charAt(i) - '0');
                i++;
            }
            int digits = i - start;
            if (digits == 0 || digits > 3 || value > 255 || (digits > 1 && s.charAt(start) == '0')) {
                return null;
            }
            bytes[part++] = (byte) value;
            if (part < 4) {
                if (i >= n || s.charAt(i) != '.') {
                    return null;
                }
                i++;
            }
        }
        if (i != n) {
            return null;
        }
        try {
            return (Inet4Address) InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    private static Ip parseBracketedIpv6(String raw) throws InvalidHostException {
        if (raw.length() < 4 || raw.charAt(raw.length() - 1) != ']') {
            throw new InvalidHostException("IPv6 literal must be written [address]");
        }
        String inner = raw.substring(1, raw.length() - 1);
        boolean sawColon = false;
        for (int i = 0; i < inner.length(); i++) {
            char c = inner.charAt(i);
            boolean hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
            if (c == ':') {
                sawColon = true;
            } else if (!hex && c != '.') {
                throw new InvalidHostException("IPv6 literal contains '" + printable(c) + "'");
            }
        }
        if (!sawColon || inner.length() > 45) {
            throw new InvalidHostException("not an IPv6 literal: " + raw);
        }
        try {
            // Only hex digits, colons and dots reach here, so this parses and never resolves.
            InetAddress address = com.google.common.net.InetAddresses.forString(inner);
            return new Ip(address);
        } catch (IllegalArgumentException e) {
            throw new InvalidHostException("not an IPv6 literal: " + raw);
        }
    }

    private static String printable(char c) {
        return c < 0x20 || c > 0x7e ? String.format("\\u%04x", (int) c) : String.valueOf(c);
    }
}
