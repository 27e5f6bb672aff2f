package io.egressd.dns;

import io.egressd.policy.EgressListener;
import io.egressd.policy.Front;
import io.egressd.policy.Rejection;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.LengthFieldBasedFrameDecoder;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Splits DNS over TCP into messages (RFC 1035 4.2.2: a two-byte length, then up to 65,535
 * bytes of message), and closes a connection that holds part of a frame for longer than the
 * frame timeout after its last complete frame: trickling bytes does not keep it open.
 */
final class DnsFrameDecoder extends LengthFieldBasedFrameDecoder {

    /** The largest message a two-byte length can announce. */
    static final int MAX_MESSAGE = 65_535;

    private final long timeoutMillis;
    private final EgressListener listener;
    private ScheduledFuture<?> partial;

    DnsFrameDecoder(Duration frameTimeout, EgressListener listener) {
        // Netty counts the length field itself in the frame length it checks.
        super(MAX_MESSAGE + 2, 0, 2, 0, 2);
        this.timeoutMillis = frameTimeout.toMillis();
        this.listener = listener;
    }

    @Override
    protected Object decode(ChannelHandlerContext ctx, ByteBuf in) throws Exception {
        Object frame = super.decode(ctx, in);
        if (frame != null) {
            cancel();
        }
        return frame;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        super.channelRead(ctx, msg);
        if (actualReadableBytes() > 0 && partial == null && ctx.channel().isActive()) {
            partial = ctx.executor().schedule(() -> {
                partial = null;
                if (ctx.channel().isOpen()) {
                    listener.rejected(Front.DNS_TCP, Rejection.FRAME_TIMEOUT);
                }
                ctx.close();
            }, timeoutMillis, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void handlerRemoved0(ChannelHandlerContext ctx) {
        cancel();
    }

    private void cancel() {
        if (partial != null) {
            partial.cancel(false);
            partial = null;
        }
    }
}
