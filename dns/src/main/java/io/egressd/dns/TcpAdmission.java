package io.egressd.dns;

import io.egressd.policy.ConnectionCount;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Front;
import io.egressd.policy.Rejection;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Admits a DNS TCP connection before it reads a byte: it must fit under the global and
 * per-source connection limits; otherwise it is closed unread and never counted. Whether the
 * source is a known client is not asked here: an unknown one is admitted under the same limits
 * and its queries are answered REFUSED, as over UDP. One instance per connection, sharing one
 * {@link ConnectionCount}.
 */
final class TcpAdmission extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(TcpAdmission.class);

    private final ConnectionCount limits;
    private final EgressListener listener;
    private InetAddress counted;

    TcpAdmission(ConnectionCount limits, EgressListener listener) {
        this.limits = limits;
        this.listener = listener;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        if (!(ctx.channel().remoteAddress() instanceof InetSocketAddress remote)) {
            // Not for an accepted TCP socket; nothing to count it under.
            ctx.close();
            return;
        }
        InetAddress source = remote.getAddress();
        Rejection refused = limits.admission(source);
        if (refused != null) {
            listener.rejected(Front.DNS_TCP, refused);
            log.debug("closing DNS TCP connection from {} at accept: {}", source, refused.code());
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
