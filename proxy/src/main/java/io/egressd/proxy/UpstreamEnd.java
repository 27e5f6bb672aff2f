package io.egressd.proxy;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.net.InetSocketAddress;

/**
 * In an HTTP upstream connection's pipeline, just before LittleProxy's handler: tells the gate
 * when the connection ends. LittleProxy keeps the client connection open when a plain HTTP
 * upstream goes away, even in the middle of an answer, which would leave the client waiting
 * for the rest of a body that never comes. It sits after the response decoder, so a body
 * that the close itself ends has been passed on before the gate hears of the close.
 */
final class UpstreamEnd extends ChannelInboundHandlerAdapter {

    static final String NAME = "egressd-upstream-end";

    private final Exchange exchange;
    private final InetSocketAddress upstream;

    private UpstreamEnd(Exchange exchange, InetSocketAddress upstream) {
        this.exchange = exchange;
        this.upstream = upstream;
    }

    /** Watches the connection of LittleProxy's handler {@code serverCtx}, once per connection. */
    static void watch(ChannelHandlerContext serverCtx, Exchange exchange) {
        if (serverCtx != null && serverCtx.pipeline().get(NAME) == null
                && serverCtx.channel().remoteAddress() instanceof InetSocketAddress remote) {
            serverCtx.pipeline().addBefore(serverCtx.name(), NAME, new UpstreamEnd(exchange, remote));
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        exchange.upstreamClosed(upstream);
        super.channelInactive(ctx);
    }
}
