package io.egressd.proxy;

import io.egressd.policy.ConnectionCount;
import io.egressd.policy.Front;
import io.egressd.policy.Rejection;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.net.InetAddress;
import java.net.InetSocketAddress;

/**
 * Admits a stream-front connection (SOCKS5 or forward) at accept, against {@code max_connections}
 * and {@code max_connections_per_source}, and holds its slot for as long as it is open; also
 * holds the connection's place in its server's {@code max_connections_per_server} once the
 * server is known. A connection that does not fit is counted nowhere, reported to the listener,
 * not read, and closed by its front as soon as it is active ({@link #refused()}).
 */
final class Counted extends ChannelInboundHandlerAdapter {

    private final ConnectionCount connections;
    private final ServerLimits.Slot serverSlot;
    private final Front front;
    private final GuardedListener listener;
    private InetAddress counted;
    private Rejection refused;

    Counted(StreamConfig config, Front front) {
        this.connections = config.connections();
        this.serverSlot = config.serverLimits().slot();
        this.front = front;
        this.listener = config.listener();
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        InetAddress source = ctx.channel().remoteAddress() instanceof InetSocketAddress a ? a.getAddress() : null;
        refused = source == null ? Rejection.MAX_CONNECTIONS_PER_SOURCE : connections.admission(source);
        if (refused != null) {
            ctx.channel().config().setAutoRead(false);
            listener.rejected(front, refused);
        } else {
            counted = source;
        }
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (counted != null) {
            connections.released(counted);
            counted = null;
        }
        serverSlot.release();
    }

    /** Why the connection was not admitted at accept, or null: its front closes it unread. */
    Rejection refused() {
        return refused;
    }

    /**
     * Counts this connection against {@code server}'s connection cap and takes one request from
     * its rate; false (and nothing held) when either is used up.
     */
    boolean admitServer(String server) {
        return serverSlot.admit(server);
    }
}
