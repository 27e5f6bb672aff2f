package io.egressd.proxy;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.ChannelOption;
import java.io.IOException;

/**
 * Passes a reset from one side of a relayed stream to the other (issue 9 item 1: the client
 * sees the upstream's reset, and the upstream a client's). A side that ends with an I/O error
 * (a reset, a broken pipe) makes its peer close with SO_LINGER 0: the bytes already relayed are
 * flushed first, then the peer gets an RST instead of a FIN. An orderly end stays a FIN.
 * {@link Splice} (CONNECT tunnels, SOCKS5, forwards) calls it as a side ends.
 */
final class ResetRelay {

    private ResetRelay() {
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
        if (channel.isOpen()) {
            try {
                channel.config().setOption(ChannelOption.SO_LINGER, 0);
            } catch (ChannelException e) {
                // closed meanwhile: nothing left to reset
            }
        }
        channel.close();
    }
}
