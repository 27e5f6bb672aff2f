package io.egressd.policy;

import com.google.common.net.InetAddresses;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.Arrays;

/**
 * An IPv4 or IPv6 network, {@code 10.20.0.0/16} or {@code 2001:db8::/32}. Host bits must be
 * zero: a range written {@code 10.20.0.1/16} is rejected, since whoever wrote it meant
 * something we cannot know.
 */
public final class Cidr {

    private final InetAddress network;
    private final int prefixLength;
    // The network's bytes, kept once: contains() runs per rule per address on the hot path,
    // and InetAddress.getAddress() clones on every call.
    private final byte[] bytes;

    public Cidr(InetAddress network, int prefixLength) {
        this.network = network;
        this.prefixLength = prefixLength;
        this.bytes = network.getAddress();
        int bits = bytes.length * 8;
        if (prefixLength < 0 || prefixLength > bits) {
            throw new IllegalArgumentException("prefix length " + prefixLength + " outside 0-" + bits);
        }
    }

    public InetAddress network() {
        return network;
    }

    public int prefixLength() {
        return prefixLength;
    }

    /**
     * Parses {@code address/prefix}; a bare address means a single host (/32 or /128).
     *
     * @throws IllegalArgumentException with a message a person can act on
     */
    public static Cidr parse(String text) {
        String s = text.strip();
        int slash = s.indexOf('/');
        String addressPart = slash < 0 ? s : s.substring(0, slash);
        InetAddress address = parseAddress(addressPart);
        int bits = address.getAddress().length * 8;
        int prefix = bits;
        if (slash >= 0) {
            String p = s.substring(slash + 1);
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')
                    || (p.length() > 1 && p.charAt(0) == '0')) {
                throw new IllegalArgumentException("\"" + text + "\" has no valid prefix length after '/'");
            }
            prefix = Integer.parseInt(p);
            if (prefix > bits) {
                throw new IllegalArgumentException(
                        "\"" + text + "\" has prefix length " + prefix + "; at most " + bits + " for this address family");
            }
        }
        byte[] masked = mask(address.getAddress(), prefix);
        if (!Arrays.equals(masked, address.getAddress())) {
            InetAddress base = toAddress(masked);
            throw new IllegalArgumentException("\"" + text + "\" has host bits set; write "
                    + InetAddresses.toAddrString(base) + "/" + prefix);
        }
        return new Cidr(address, prefix);
    }

    private static InetAddress parseAddress(String s) {
        if (s.isEmpty()) {
            throw new IllegalArgumentException("empty address");
        }
        Host host;
        try {
            host = Host.parse(s.indexOf(':') >= 0 ? "[" + s + "]" : s);
        } catch (InvalidHostException e) {
            throw new IllegalArgumentException("\"" + s + "\" is not an IPv4 or IPv6 address");
        }
        if (host instanceof Host.Ip ip) {
            return ip.address();
        }
        throw new IllegalArgumentException("\"" + s + "\" is not an IPv4 or IPv6 address");
    }

    public static Cidr of(String text) {
        return parse(text);
    }

    /** Whether {@code address} is inside this network; IPv4 and IPv6 never match each other. */
    public boolean contains(InetAddress address) {
        return contains(address.getAddress());
    }

    /** The same for an address's bytes, 4 or 16 of them, fetched once by a caller checking many ranges. */
    boolean contains(byte[] a) {
        byte[] n = bytes;
        if (a.length != n.length) {
            return false;
        }
        int full = prefixLength / 8;
        for (int i = 0; i < full; i++) {
            if (a[i] != n[i]) {
                return false;
            }
        }
        int rest = prefixLength % 8;
        if (rest == 0) {
            return true;
        }
        int m = (0xff << (8 - rest)) & 0xff;
        return (a[full] & m) == (n[full] & m);
    }

    /** Whether the two networks share any address. */
    public boolean overlaps(Cidr other) {
        if (network.getAddress().length != other.network.getAddress().length) {
            return false;
        }
        return prefixLength <= other.prefixLength ? contains(other.network) : other.contains(network);
    }

    public boolean isIpv4() {
        return network instanceof Inet4Address;
    }

    private static byte[] mask(byte[] address, int prefix) {
        byte[] out = address.clone();
        for (int i = 0; i < out.length; i++) {
            int bitsHere = Math.max(0, Math.min(8, prefix - i * 8));
            out[i] = (byte) (out[i] & ((0xff << (8 - bitsHere)) & 0xff));
        }
        return out;
    }

    static InetAddress toAddress(byte[] bytes) {
        try {
            return InetAddress.getByAddress(bytes);
        } catch (java.net.UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Cidr other && prefixLength == other.prefixLength && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(bytes) + prefixLength;
    }

    @Override
    public String toString() {
        return network.getHostAddress() + "/" + prefixLength;
    }
}
