package io.egressd.proxy;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import java.io.IOException;

/**
 * Passes a reset from one side of a relayed stream to the other (issue 9 item 1: the client
 * sees the upstream's reset, and the upstream a client's). A side that ends with an I/O error
 * (a reset, a broken pipe) makes its peer close with SO_LINGER 0: the bytes already relayed are
 * flushed first, then the peer gets an RST instead of a FIN. An orderly end stays a FIN.
 *
 * <p>As a handler it sits first in both pipelines of a LittleProxy CONNECT tunnel, ahead of
 * LittleProxy's handler, which flushes and closes the peer itself once this side is gone;
 * {@link Splice} (SOCKS5, forwards) uses {@link #resetAfterFlush} directly.
 */
final class ResetRelay extends ChannelInboundHandlerAdapter {

    static final String NAME = "egressd-reset-relay";

    private final Channel peer;

    private ResetRelay(Channel peer) {
        this.peer = peer;
    }

    /** Relays resets both ways between a CONNECT tunnel's two channels, once per channel. */
    static void between(Channel client, Channel upstream) {
        if (client.pipeline().get(NAME) == null) {
            client.pipeline().addFirst(NAME, new ResetRelay(upstream));
        }
        if (upstream.pipeline().get(NAME) == null) {
            upstream.pipeline().addFirst(NAME, new ResetRelay(client));
        }
    }

    /** Whether a stream that ended with {@code cause} ended abnormally (a reset), not by a FIN. */
    static boolean endsByReset(Throwable cause) {
        return cause instanceof IOException;
    }

    /** Writes out what is queued for {@code channel}, then resets it. */
    static void resetAfterFlush(Channel channel) {
        if (channel.isActive()) {
            channel.writeAndFlush(Unpooled.EMPTY_BUFFER).addListener(done -> reset(channel));
        }
    }

    /** Closes {@code channel} with an RST. */
    static void reset(Channel channel) {
        lingerZero(channel);
        channel.close();
    }

    /** Makes the next close of {@code channel}, whoever does it, an RST. */
    private static void lingerZero(Channel channel) {
        if (channel.isOpen()) {
            try {
                channel.config().setOption(ChannelOption.SO_LINGER, 0);
            } catch (ChannelException e) {
                // closed meanwhile: nothing left to reset
            }
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
        if (endsByReset(cause)) {
            // LittleProxy closes the peer once this side is gone, after flushing what it holds.
            lingerZero(peer);
        }
        super.exceptionCaught(ctx, cause);
    }
}
