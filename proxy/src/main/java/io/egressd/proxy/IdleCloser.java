package io.egressd.proxy;

import io.egressd.policy.Front;
import io.egressd.policy.Rejection;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.timeout.IdleStateEvent;

/** Closes a client connection on which nothing moved, either way, for the idle timeout. */
@ChannelHandler.Sharable
final class IdleCloser extends ChannelInboundHandlerAdapter {

    private final Front front;
    private final GuardedListener listener;

    IdleCloser(Front front, GuardedListener listener) {
        this.front = front;
        this.listener = listener;
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent) {
            if (ctx.channel().isOpen()) {
                listener.rejected(front, Rejection.IDLE_TIMEOUT);
            }
            ctx.close();
        } else {
            super.userEventTriggered(ctx, evt);
        }
    }
}
