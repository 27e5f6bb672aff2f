package io.egressd.policy;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.List;

/**
 * What kind of destination an IP address is, after unwrapping the IPv6 forms that carry an
 * IPv4 address (mapped, compatible, NAT64, 6to4, Teredo): the SSRF floor of design.md 5.4.
 */
public enum AddressClass {
    PUBLIC,
    /** RFC 1918, fc00::/7, and 100.64.0.0/10 (CGNAT): allowed with {@code private: true}. */
    PRIVATE,
    LOOPBACK,
    /** 169.254/16, fe80::/10, and cloud metadata endpoints wherever they live. */
    LINK_LOCAL,
    UNSPECIFIED,
    MULTICAST,
    BROADCAST,
    DOCUMENTATION,
    RESERVED;

    /** Public addresses pass a host rule; private ones with {@code private: true}; the rest only through a cidr rule. */
    public boolean needsCidrRule() {
        return this != PUBLIC && this != PRIVATE;
    }

    private record Range(Cidr cidr, AddressClass kind) { }

    // Metadata endpoints first: fd00:ec2::254 is inside fc00::/7 and 100.100.100.200 inside
    // CGNAT, and neither may pass as merely "private". Order matters: first match wins.
    private static final List<Range> V4 = List.of(
            r("169.254.0.0/16", LINK_LOCAL),
            r("100.100.100.200/32", LINK_LOCAL),
            r("192.0.0.192/32", LINK_LOCAL),
            r("255.255.255.255/32", BROADCAST),
            r("0.0.0.0/8", UNSPECIFIED),
            r("127.0.0.0/8", LOOPBACK),
            r("10.0.0.0/8", PRIVATE),
            r("172.16.0.0/12", PRIVATE),
            r("192.168.0.0/16", PRIVATE),
            r("100.64.0.0/10", PRIVATE),
            r("192.0.2.0/24", DOCUMENTATION),
            r("198.51.100.0/24", DOCUMENTATION),
            r("203.0.113.0/24", DOCUMENTATION),
            r("192.0.0.0/24", RESERVED),
            r("192.88.99.0/24", RESERVED),
            r("198.18.0.0/15", RESERVED),
            r("224.0.0.0/4", MULTICAST),
            r("240.0.0.0/4", RESERVED));

    private static final List<Range> V6 = List.of(
            r("fd00:ec2::254/128", LINK_LOCAL),
            r("::/128", UNSPECIFIED),
            r("::1/128", LOOPBACK),
            r("fe80::/10", LINK_LOCAL),
            r("fc00::/7", PRIVATE),
            r("ff00::/8", MULTICAST),
            r("2001:db8::/32", DOCUMENTATION),
            r("3fff::/20", DOCUMENTATION),
            r("fec0::/10", RESERVED),
            r("100::/64", RESERVED),
            r("64:ff9b:1::/48", RESERVED),
            r("2001::/23", RESERVED),
            r("5f00::/16", RESERVED),
            // Everything outside global unicast 2000::/3 is unassigned or special.
            r("::/3", RESERVED),
            r("4000::/2", RESERVED),
            r("8000::/1", RESERVED));

    private static final Cidr IPV4_COMPATIBLE = Cidr.of("::/96");
    // Cidr.of would turn ::ffff:0:0 into an Inet4Address, so the mapped prefix is checked by hand.
    private static final byte[] IPV4_MAPPED_PREFIX = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff};
    private static final Cidr NAT64 = Cidr.of("64:ff9b::/96");
    private static final Cidr SIX_TO_FOUR = Cidr.of("2002::/16");
    private static final Cidr TEREDO = Cidr.of("2001::/32");

    private static Range r(String cidr, AddressClass kind) {
        return new Range(Cidr.of(cidr), kind);
    }

    /** Classifies {@code address}, unwrapping any embedded IPv4 address first. */
    public static AddressClass of(InetAddress address) {
        InetAddress a = unwrap(address);
        byte[] bytes = a.getAddress();
        for (Range range : a instanceof Inet4Address ? V4 : V6) {
            if (range.cidr.contains(bytes)) {
                return range.kind;
            }
        }
        return PUBLIC;
    }

    /**
     * The IPv4 address an IPv6 address carries, for the forms that route to it (IPv4-mapped,
     * NAT64, 6to4, Teredo's client, IPv4-compatible); otherwise {@code address} itself.
     * IPv4-mapped addresses usually arrive as {@link Inet4Address} already, but
     * {@code Inet6Address.getByAddress(host, bytes, scope)} keeps them IPv6, and a resolver
     * supplied by the caller may use it.
     */
    public static InetAddress unwrap(InetAddress address) {
        if (!(address instanceof Inet6Address)) {
            return address;
        }
        byte[] b = address.getAddress();
        if (java.util.Arrays.equals(b, 0, 12, IPV4_MAPPED_PREFIX, 0, 12)) {
            return v4(b[12], b[13], b[14], b[15]);
        }
        if (NAT64.contains(b) || (IPV4_COMPATIBLE.contains(b) && !isZeroOrOne(b))) {
            return v4(b[12], b[13], b[14], b[15]);
        }
        if (SIX_TO_FOUR.contains(b)) {
            return v4(b[2], b[3], b[4], b[5]);
        }
        if (TEREDO.contains(b)) {
            // The client's address is stored inverted in the last 32 bits.
            return v4((byte) ~b[12], (byte) ~b[13], (byte) ~b[14], (byte) ~b[15]);
        }
        return address;
    }

    private static boolean isZeroOrOne(byte[] b) {
        for (int i = 0; i < 15; i++) {
            if (b[i] != 0) {
                return false;
            }
        }
        return b[15] == 0 || b[15] == 1;
    }

    private static InetAddress v4(byte a, byte b, byte c, byte d) {
        return Cidr.toAddress(new byte[] {a, b, c, d});
    }
}
