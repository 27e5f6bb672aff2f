package io.egressd.policy;

/**
 * A destination as a client writes it, {@code host:port}: the authority of a CONNECT request,
 * a SOCKS5 request rendered as text, or the argument of {@code egressd explain}. One parser
 * for all of them, so that no front reads a port differently from another.
 *
 * <p>Strict, like {@link Host#parse}: the port is decimal, without sign or leading zeros,
 * 1-65535; an IPv6 address is bracketed ({@code [2001:db8::1]:443}). The host part is kept
 * as written and is canonicalized by {@link Policy#evaluate}, so an invalid host still
 * gets a decision ({@code invalid_host}) naming what the client sent.
 *
 * @param host the host as written, brackets included for IPv6
 * @param port 1-65535
 */
public record Destination(String host, int port) {

    public Destination {
        if (host == null || host.isEmpty()) {
            throw new IllegalArgumentException("empty host");
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("port " + port + " outside 1-65535");
        }
    }

    /**
     * Parses {@code host:port}, the port required (a CONNECT authority).
     *
     * @throws InvalidHostException saying what is wrong; a front refuses with {@code invalid_host}
     */
    public static Destination parseAuthority(String authority) throws InvalidHostException {
        return parse(authority, -1);
    }

    /**
     * Parses {@code host:port} or a bare {@code host}, which then means {@code defaultPort}
     * (an absolute URI's authority, or {@code egressd explain DESTINATION[:PORT]}). A port that
     * is written is as strict as in {@link #parseAuthority(String)}: {@code host:} is invalid.
     */
    public static Destination parseAuthority(String authority, int defaultPort) throws InvalidHostException {
        if (defaultPort < 1 || defaultPort > 65535) {
            throw new IllegalArgumentException("default port " + defaultPort + " outside 1-65535");
        }
        return parse(authority, defaultPort);
    }

    /** A port as text: decimal digits only, no sign, no leading zero, 1-65535. */
    public static int parsePort(String text) throws InvalidHostException {
        int n = text.length();
        if (n == 0) {
            throw new InvalidHostException("empty port");
        }
        if (n > 5) {
            throw new InvalidHostException("port \"" + printable(text) + "\" is not a number from 1 to 65535");
        }
        int value = 0;
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                throw new InvalidHostException("port \"" + printable(text) + "\" is not a decimal number");
            }
            value = value * 10 + (c - '0');
        }
        if (text.charAt(0) == '0') {
            throw new InvalidHostException("port \"" + text + "\" has a leading zero; write it in decimal without one");
        }
        if (value > 65535) {
            throw new InvalidHostException("port " + text + " is above 65535");
        }
        return value;
    }

    private static Destination parse(String authority, int defaultPort) throws InvalidHostException {
        if (authority == null || authority.isEmpty()) {
            throw new InvalidHostException("empty destination");
        }
        if (authority.length() > 1024) {
            throw new InvalidHostException("destination longer than 1024 characters");
        }
        String host;
        String port;
        if (authority.charAt(0) == '[') {
            int close = authority.indexOf(']');
            if (close < 0) {
                throw new InvalidHostException("IPv6 literal without its closing ']'");
            }
            host = authority.substring(0, close + 1);
            String rest = authority.substring(close + 1);
            if (rest.isEmpty()) {
                port = null;
            } else if (rest.charAt(0) == ':') {
                port = rest.substring(1);
            } else {
                throw new InvalidHostException("unexpected text after the IPv6 literal: \"" + printable(rest) + "\"");
            }
        } else {
            int colon = authority.lastIndexOf(':');
            if (colon < 0) {
                host = authority;
                port = null;
            } else {
                host = authority.substring(0, colon);
                port = authority.substring(colon + 1);
                if (host.indexOf(':') >= 0) {
                    throw new InvalidHostException("more than one ':'; write an IPv6 address in brackets,"
                            + " e.g. [2001:db8::1]:443");
                }
            }
        }
        if (host.isEmpty() || host.equals("[]")) {
            throw new InvalidHostException("empty host");
        }
        if (port == null) {
            if (defaultPort < 0) {
                throw new InvalidHostException("no port; write host:port, e.g. example.com:443");
            }
            return new Destination(host, defaultPort);
        }
        return new Destination(host, parsePort(port));
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c > 0x7e) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    /** {@code host:port}, the form {@link #parseAuthority(String)} reads back. */
    @Override
    public String toString() {
        return host + ":" + port;
    }
}
