package io.egressd.dns;

import io.egressd.policy.EgressListener;
import io.egressd.policy.Rejection;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.Message;

/**
 * DNS over UDP: one datagram in, at most one datagram back, truncated to what the client accepts.
 * A source over its query rate is dropped unanswered. Shared by the one UDP channel, so it runs
 * on that channel's loop only.
 */
@ChannelHandler.Sharable
final class UdpQueryHandler extends SimpleChannelInboundHandler<DatagramPacket> {

    private static final Logger log = LoggerFactory.getLogger(UdpQueryHandler.class);

    private final QueryService service;
    private final SourceRateLimit rateLimit;
    private final EgressListener listener;

    UdpQueryHandler(QueryService service, SourceRateLimit rateLimit, EgressListener listener) {
        this.service = service;
        this.rateLimit = rateLimit;
        this.listener = listener;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
        InetSocketAddress client = packet.sender();
        // Before any decoding: a flooding source costs a map lookup per datagram, and gets nothing
        // back (an answer, even REFUSED, would be reflected at whoever its address really is).
        if (!rateLimit.tryQuery(client.getAddress())) {
            listener.queryDropped(Rejection.RATE_LIMITED);
            return;
        }
        byte[] wire = ByteBufUtil.getBytes(packet.content());
        Decoded decoded = QueryDecoder.decode(wire, client, false);
        if (decoded instanceof Decoded.Reply reply) {
            send(ctx, client, Replies.encode(reply.reply(), DnsQuery.CLASSIC_UDP_SIZE));
        } else if (decoded instanceof Decoded.Query q) {
            DnsQuery query = q.query();
            Answers.answer(service, query, ctx.executor(), (Message answer) ->
                    send(ctx, client, Replies.encode(answer, query.maxAnswerSize())));
        } else {
            log.trace("dropped a datagram from {}: {}", client, ((Decoded.Drop) decoded).why());
        }
    }

    private static void send(ChannelHandlerContext ctx, InetSocketAddress client, byte[] answer) {
        ctx.writeAndFlush(new DatagramPacket(Unpooled.wrappedBuffer(answer), client)).addListener(f -> {
            if (!f.isSuccess()) {
                log.debug("could not answer {} over UDP: {}", client, f.cause().toString());
            }
        });
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // The one UDP channel serves every client: log and keep it open, whatever happened.
        log.debug("UDP listener error: {}", cause.toString());
    }
}
