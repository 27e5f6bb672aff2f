package io.egressd.dns;

import io.egressd.policy.EgressListener;
import io.egressd.policy.Front;
import io.egressd.policy.Rejection;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.timeout.IdleStateEvent;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.Message;

/**
 * DNS over TCP (RFC 7766): each frame is a query, answered as soon as its answer is ready, so
 * pipelined queries on one connection may be answered out of order (clients match them by ID).
 * One instance per connection.
 */
final class TcpQueryHandler extends SimpleChannelInboundHandler<ByteBuf> {

    private static final Logger log = LoggerFactory.getLogger(TcpQueryHandler.class);

    /** Queries one connection may have outstanding before we stop reading from it. */
    static final int MAX_PENDING = 64;

    private final QueryService service;
    private final EgressListener listener;
    // Touched only on this channel's event loop (answers complete there), so a plain int suffices.
    private int pending;

    TcpQueryHandler(QueryService service, EgressListener listener) {
        this.service = service;
        this.listener = listener;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, ByteBuf frame) {
        InetSocketAddress client = (InetSocketAddress) ctx.channel().remoteAddress();
        byte[] wire = ByteBufUtil.getBytes(frame);
        Decoded decoded = QueryDecoder.decode(wire, client, true);
        if (decoded instanceof Decoded.Reply reply) {
            send(ctx, reply.reply());
        } else if (decoded instanceof Decoded.Query q) {
            if (++pending >= MAX_PENDING) {
                // Backpressure: a client pipelining faster than upstream answers waits in its own socket buffer.
                ctx.channel().config().setAutoRead(false);
            }
            Answers.answer(service, q.query(), ctx.executor(), answer -> {
                pending--;
                send(ctx, answer);
                if (!ctx.channel().config().isAutoRead() && pending < MAX_PENDING / 2) {
                    ctx.channel().config().setAutoRead(true);
                }
            });
        } else {
            log.trace("dropped a frame from {}: {}", client, ((Decoded.Drop) decoded).why());
        }
    }

    private static void send(ChannelHandlerContext ctx, Message answer) {
        if (!ctx.channel().isActive()) {
            return;
        }
        byte[] wire = Replies.encode(answer, DnsQuery.MAX_TCP_SIZE);
        ctx.writeAndFlush(Unpooled.wrappedBuffer(wire)).addListener(f -> {
            if (!f.isSuccess()) {
                log.debug("could not answer {} over TCP: {}", ctx.channel().remoteAddress(), f.cause().toString());
            }
        });
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
        if (event instanceof IdleStateEvent && pending == 0) {
            if (ctx.channel().isOpen()) {
                listener.rejected(Front.DNS_TCP, Rejection.IDLE_TIMEOUT);
            }
            ctx.close();
            return;
        }
        super.userEventTriggered(ctx, event);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // Resets and framing errors are what clients do; no stack trace for them, just close.
        log.debug("closing DNS TCP connection from {}: {}", ctx.channel().remoteAddress(), cause.toString());
        ctx.close();
    }
}
