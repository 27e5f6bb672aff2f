package io.egressd.proxy;

import io.egressd.policy.ConnectionCount;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * Counts a client connection against {@code max_connections} for as long as it is open. A
 * connection beyond the limit is counted too, and refused by its front with {@code limit_exceeded}.
 */
final class Counted extends ChannelInboundHandlerAdapter {

    private final ConnectionCount connections;
    private boolean counted;
    private boolean overLimit;

    Counted(ConnectionCount connections) {
        this.connections = connections;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        counted = true;
        overLimit = !connections.opened();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (counted) {
            counted = false;
            connections.closed();
        }
    }

    boolean overLimit() {
        return overLimit;
    }
}
