package io.egressd.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;

/**
 * Relays what one channel reads to its peer, counting bytes. When the peer cannot keep up,
 * this side stops reading until it can (the peer's splice turns reading back on), so a slow
 * reader never makes egressd buffer without bound. A side that ends with a reset ends its peer
 * with one ({@link ResetRelay}); a FIN is passed on as a close.
 *
 * <p>Carries SOCKS5 streams, forwards and HTTP CONNECT tunnels; both channels of a pair live on
 * one event loop, so relaying a read is a direct call.
 */
final class Splice extends ChannelInboundHandlerAdapter {

    /** Where a splice reports the bytes it moves and its end. */
    interface Tally {
        /** Client to upstream. */
        void sent(int bytes);

        /** Upstream to client. */
        void received(int bytes);

        /** One side closed; called once per side. */
        void end();
    }

    private final Channel peer;
    private final Tally session;
    private final boolean fromClient;
    /** This side ended with an I/O error: its peer is reset, not closed. */
    private boolean reset;

    Splice(Channel peer, Tally session, boolean fromClient) {
        this.peer = peer;
        this.session = session;
        this.fromClient = fromClient;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!(msg instanceof ByteBuf bytes)) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (fromClient) {
            session.sent(bytes.readableBytes());
        } else {
            session.received(bytes.readableBytes());
        }
        peer.write(msg, peer.voidPromise());
        if (!peer.isWritable()) {
            // Stop reading before the flush: a flush that drains the peer at once turns reading
            // back on (channelWritabilityChanged below), and must not be undone after it.
            ctx.channel().config().setAutoRead(false);
            peer.flush();
        }
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        peer.flush();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        // This channel drained (or filled): let the peer, which writes into it, read again (or wait).
        peer.config().setAutoRead(ctx.channel().isWritable());
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        session.end();
        if (reset) {
            ResetRelay.resetAfterFlush(peer);
        } else {
            closeOnFlush(peer);
        }
        ctx.fireChannelInactive(); // a CONNECT tunnel's client pipeline has LittleProxy's handler after this one
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Resets and broken pipes end a stream; they are not egressd's errors, but the peer hears of them.
        reset |= ResetRelay.endsByReset(cause);
        ctx.close();
    }

    /** Closes {@code channel} once what is queued for it is written. */
    static void closeOnFlush(Channel channel) {
        if (channel.isActive()) {
            channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(ChannelFutureListener.CLOSE);
        }
    }
}
