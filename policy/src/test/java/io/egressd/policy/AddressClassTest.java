package io.egressd.policy;

import static io.egressd.policy.AddressClass.BROADCAST;
import static io.egressd.policy.AddressClass.DOCUMENTATION;
import static io.egressd.policy.AddressClass.LINK_LOCAL;
import static io.egressd.policy.AddressClass.LOOPBACK;
import static io.egressd.policy.AddressClass.MULTICAST;
import static io.egressd.policy.AddressClass.PRIVATE;
import static io.egressd.policy.AddressClass.PUBLIC;
import static io.egressd.policy.AddressClass.RESERVED;
import static io.egressd.policy.AddressClass.UNSPECIFIED;
import static io.egressd.policy.Fixtures.ip;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The address classes of design.md 5.4, one or more addresses per class and range, IPv4 and
 * IPv6, and every IPv6 form that carries an IPv4 address: such an address must get the class
 * of the IPv4 address inside it. Without unwrapping, each wrapped private, loopback or
 * metadata address below would be reserved or public instead, so these rows fail.
 */
class AddressClassTest {

    @ParameterizedTest(name = "{0} is {1}")
    @CsvSource(delimiter = '|', textBlock = """
            # IPv4
            127.0.0.1         | LOOPBACK
            127.255.255.254   | LOOPBACK
            169.254.1.1       | LINK_LOCAL
            169.254.169.254   | LINK_LOCAL
            100.100.100.200   | LINK_LOCAL
            192.0.0.192       | LINK_LOCAL
            10.0.0.1          | PRIVATE
            10.255.255.255    | PRIVATE
            172.16.0.1        | PRIVATE
            172.31.255.255    | PRIVATE
            192.168.1.1       | PRIVATE
            100.64.0.1        | PRIVATE
            100.127.255.254   | PRIVATE
            0.0.0.0           | UNSPECIFIED
            0.1.2.3           | UNSPECIFIED
            224.0.0.1         | MULTICAST
            239.255.255.255   | MULTICAST
            255.255.255.255   | BROADCAST
            240.0.0.1         | RESERVED
            255.255.255.254   | RESERVED
            198.18.0.1        | RESERVED
            198.19.255.255    | RESERVED
            192.0.0.1         | RESERVED
            192.88.99.1       | RESERVED
            192.0.2.1         | DOCUMENTATION
            198.51.100.1      | DOCUMENTATION
            203.0.113.1       | DOCUMENTATION
            9.9.9.9           | PUBLIC
            1.1.1.1           | PUBLIC
            172.15.255.255    | PUBLIC
            172.32.0.1        | PUBLIC
            100.63.255.255    | PUBLIC
            100.128.0.1       | PUBLIC
            198.20.0.1        | PUBLIC
            223.255.255.255   | PUBLIC
            # IPv6
            ::1               | LOOPBACK
            ::                | UNSPECIFIED
            fe80::1           | LINK_LOCAL
            febf:ffff::1      | LINK_LOCAL
            fd00:ec2::254     | LINK_LOCAL
            fc00::1           | PRIVATE
            fd12:3456::1      | PRIVATE
            ff02::1           | MULTICAST
            ff0e::1           | MULTICAST
            2001:db8::1       | DOCUMENTATION
            3fff::1           | DOCUMENTATION
            fec0::1           | RESERVED
            100::1            | RESERVED
            64:ff9b:1::1      | RESERVED
            2001:2::1         | RESERVED
            5f00::1           | RESERVED
            4000::1           | RESERVED
            8000::1           | RESERVED
            1::1              | RESERVED
            2606:4700::1111   | PUBLIC
            2001:4860:4860::8888 | PUBLIC
            2a00:1450::1      | PUBLIC
            # Written IPv6 forms that carry an IPv4 address, each of them written out by hand
            '[::ffff:127.0.0.1]'                          | LOOPBACK
            '[::ffff:10.0.0.1]'                           | PRIVATE
            '[::127.0.0.1]'                               | LOOPBACK
            '[::10.0.0.1]'                                | PRIVATE
            '[::169.254.169.254]'                         | LINK_LOCAL
            '[64:ff9b::10.0.0.1]'                         | PRIVATE
            '[64:ff9b::a9fe:a9fe]'                        | LINK_LOCAL
            '[2002:a00:1::1]'                             | PRIVATE
            '[2002:7f00:1::]'                             | LOOPBACK
            '[2001:0:4136:e378:8000:63bf:f5ff:fffe]'      | PRIVATE
            '[2001:0:4136:e378:8000:63bf:5601:5601]'      | LINK_LOCAL
            '[2001:0:4136:e378:8000:63bf:80ff:fffe]'      | LOOPBACK
            """)
    void classifies(String literal, AddressClass expected) {
        InetAddress address = literal.startsWith("[") ? parseBracketed(literal) : ip(literal);
        assertThat(AddressClass.of(address)).as(literal).isEqualTo(expected);
    }

    /** IPv4 addresses of each class, to be wrapped. */
    static final List<String> EMBEDDED = List.of("127.0.0.1", "169.254.169.254", "100.100.100.200", "10.0.0.1",
            "192.168.7.7", "100.64.0.1", "0.1.2.3", "224.0.0.1", "255.255.255.255", "240.0.0.1", "198.18.0.1",
            "192.0.2.1", "9.9.9.9");

    record Wrapper(String name, Function<byte[], Inet6Address> wrap) {
        @Override
        public String toString() {
            return name;
        }
    }

    /** Each IPv6 form that carries an IPv4 address, from the four IPv4 bytes. */
    static final List<Wrapper> WRAPPERS = List.of(
            new Wrapper("IPv4-mapped ::ffff:0:0/96, kept as Inet6Address", v4 -> v6(new byte[] {
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, v4[0], v4[1], v4[2], v4[3]})),
            new Wrapper("IPv4-compatible ::a.b.c.d", v4 -> v6(new byte[] {
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, v4[0], v4[1], v4[2], v4[3]})),
            new Wrapper("NAT64 64:ff9b::/96", v4 -> v6(new byte[] {
                0, 0x64, (byte) 0xff, (byte) 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, v4[0], v4[1], v4[2], v4[3]})),
            new Wrapper("6to4 2002::/16", v4 -> v6(new byte[] {
                0x20, 0x02, v4[0], v4[1], v4[2], v4[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})),
            // Teredo: server 65.54.227.120 in bits 32-63, the client's address inverted in the last 32.
            new Wrapper("Teredo 2001::/32, client address inverted", v4 -> v6(new byte[] {
                0x20, 0x01, 0, 0, 0x41, 0x36, (byte) 0xe3, 0x78, (byte) 0x80, 0, 0x63, (byte) 0xbf,
                (byte) ~v4[0], (byte) ~v4[1], (byte) ~v4[2], (byte) ~v4[3]})));

    static Stream<Arguments> wrapped() {
        List<Arguments> out = new ArrayList<>();
        for (Wrapper w : WRAPPERS) {
            for (String v4 : EMBEDDED) {
                out.add(Arguments.of(w, v4));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} of {1}")
    @MethodSource("wrapped")
    void aWrappedAddressHasTheClassOfTheIpv4AddressInside(Wrapper wrapper, String v4) {
        InetAddress inner = ip(v4);
        Inet6Address outer = wrapper.wrap.apply(inner.getAddress());

        assertThat(AddressClass.unwrap(outer)).as("unwrapped %s", outer).isInstanceOf(Inet4Address.class)
                .isEqualTo(inner);
        assertThat(AddressClass.of(outer)).as("%s carrying %s", outer.getHostAddress(), v4)
                .isEqualTo(AddressClass.of(inner));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("wrappers")
    void wrappedPrivateLoopbackAndMetadataAreNeverReservedOrPublic(Wrapper wrapper) {
        // The classes these wrapped forms would have without unwrapping: reserved (outside
        // 2000::/3, or 2001::/23) or public (2002::/16). Unwrapped, they are what they carry.
        assertThat(AddressClass.of(wrapper.wrap.apply(ip("10.0.0.1").getAddress()))).isEqualTo(PRIVATE);
        assertThat(AddressClass.of(wrapper.wrap.apply(ip("127.0.0.1").getAddress()))).isEqualTo(LOOPBACK);
        assertThat(AddressClass.of(wrapper.wrap.apply(ip("169.254.169.254").getAddress()))).isEqualTo(LINK_LOCAL);
        assertThat(AddressClass.of(wrapper.wrap.apply(ip("255.255.255.255").getAddress()))).isEqualTo(BROADCAST);
        assertThat(AddressClass.of(wrapper.wrap.apply(ip("224.0.0.1").getAddress()))).isEqualTo(MULTICAST);
        assertThat(AddressClass.of(wrapper.wrap.apply(ip("192.0.2.1").getAddress()))).isEqualTo(DOCUMENTATION);
        assertThat(AddressClass.of(wrapper.wrap.apply(ip("0.1.2.3").getAddress()))).isEqualTo(UNSPECIFIED);
        assertThat(AddressClass.of(wrapper.wrap.apply(ip("240.0.0.1").getAddress()))).isEqualTo(RESERVED);
        assertThat(AddressClass.of(wrapper.wrap.apply(ip("9.9.9.9").getAddress()))).isEqualTo(PUBLIC);
    }

    static Stream<Wrapper> wrappers() {
        return WRAPPERS.stream();
    }

    @ParameterizedTest(name = "{0} is not unwrapped")
    @CsvSource(delimiter = '|', textBlock = """
            ::1                                  | LOOPBACK
            ::                                   | UNSPECIFIED
            2001:4860:4860::8888                 | PUBLIC
            fd00:ec2::254                        | LINK_LOCAL
            2001:db8::a00:1                      | DOCUMENTATION
            """)
    void addressesThatCarryNoIpv4AddressStayAsTheyAre(String literal, AddressClass expected) {
        InetAddress address = ip(literal);
        assertThat(AddressClass.unwrap(address)).isSameAs(address);
        assertThat(AddressClass.of(address)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "Teredo server {0}, client {1}")
    @CsvSource(delimiter = '|', textBlock = """
            # The client's address decides, not the Teredo server's.
            0a00:0001 | f6f6:f6f6 | PUBLIC
            0909:0909 | f5ff:fffe | PRIVATE
            """)
    void teredoIsClassifiedByItsClientNotItsServer(String server, String obfuscatedClient, AddressClass expected) {
        InetAddress address = ip("2001:0:" + server + ":8000:63bf:" + obfuscatedClient);
        assertThat(AddressClass.of(address)).isEqualTo(expected);
    }

    private static InetAddress parseBracketed(String literal) {
        try {
            return ((Host.Ip) Host.parse(literal)).address();
        } catch (InvalidHostException e) {
            throw new AssertionError(literal, e);
        }
    }

    private static Inet6Address v6(byte[] bytes) {
        return Fixtures.v6(bytes);
    }
}
