package io.egressd.dns;

import io.egressd.policy.ConnectionCount;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Front;
import io.egressd.policy.Rejection;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Admits a DNS TCP connection before it reads a byte: its source must be a known client and it
 * must fit under the global and per-source connection limits; otherwise it is closed unread and
 * never counted. One instance per connection, sharing one {@link ConnectionCount}.
 */
final class TcpAdmission extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(TcpAdmission.class);

    private final ConnectionCount limits;
    private final Predicate<InetAddress> known;
    private final EgressListener listener;
    private InetAddress counted;

    TcpAdmission(ConnectionCount limits, Predicate<InetAddress> known, EgressListener listener) {
        this.limits = limits;
        this.known = known;
        this.listener = listener;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        InetAddress source = ctx.channel().remoteAddress() instanceof InetSocketAddress a ? a.getAddress() : null;
        Rejection refused = Rejection.UNKNOWN_SOURCE;
        try {
            refused = source == null || !known.test(source) ? Rejection.UNKNOWN_SOURCE : limits.admission(source);
        } catch (RuntimeException e) {
            log.warn("cannot identify DNS TCP client {}; closing", source, e);
        }
        if (refused != null) {
            listener.rejected(Front.DNS_TCP, refused);
            log.debug("closing DNS TCP connection from {} at accept: unknown client or over the limits", source);
            ctx.channel().config().setAutoRead(false);
            ctx.executor().execute(ctx::close);
            return;
        }
        counted = source;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (counted != null) {
            limits.released(counted);
            counted = null;
        }
    }
}
