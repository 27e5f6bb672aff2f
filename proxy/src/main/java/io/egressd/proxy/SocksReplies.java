package io.egressd.proxy;

import io.netty.handler.codec.socksx.v5.DefaultSocks5CommandResponse;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import io.netty.handler.codec.socksx.v5.Socks5CommandResponse;
import io.netty.handler.codec.socksx.v5.Socks5CommandStatus;
import io.netty.util.NetUtil;
import java.net.Inet6Address;
import java.net.InetSocketAddress;

/** The replies of RFC 1928 section 6 that the SOCKS5 front sends (design.md section 6). */
final class SocksReplies {

    private SocksReplies() {
    }

    /** Connected: BND.ADDR and BND.PORT are egressd's end of the upstream connection. */
    static Socks5CommandResponse connected(InetSocketAddress bound) {
        boolean v6 = bound.getAddress() instanceof Inet6Address;
        return new DefaultSocks5CommandResponse(Socks5CommandStatus.SUCCESS,
                v6 ? Socks5AddressType.IPv6 : Socks5AddressType.IPv4,
                NetUtil.toAddressString(bound.getAddress()), bound.getPort());
    }

    /** A failure reply, with an all-zero bound address. */
    static Socks5CommandResponse failure(Socks5CommandStatus status) {
        return new DefaultSocks5CommandResponse(status, Socks5AddressType.IPv4, "0.0.0.0", 0);
    }

    /** The reply for an upstream connection that failed: refused 0x05, timed out or no route 0x04. */
    static Socks5CommandStatus of(Upstream.Failure failure) {
        return switch (failure) {
            case REFUSED -> Socks5CommandStatus.CONNECTION_REFUSED;
            case TIMED_OUT, HOST_UNREACHABLE -> Socks5CommandStatus.HOST_UNREACHABLE;
            case NETWORK_UNREACHABLE -> Socks5CommandStatus.NETWORK_UNREACHABLE;
            case OTHER -> Socks5CommandStatus.FAILURE;
        };
    }
}
