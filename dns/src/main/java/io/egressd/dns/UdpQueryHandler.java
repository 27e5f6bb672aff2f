package io.egressd.dns;

import io.egressd.policy.EgressListener;
import io.egressd.policy.Rejection;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.DatagramPacket;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.Message;

/**
 * DNS over UDP: one datagram in, at most one datagram back, truncated to what the client accepts.
 * One per UDP socket. A source over its query rate is dropped unanswered. Replies made while a
 * read batch is handled (cached and locally refused answers) are written and flushed once when
 * the batch ends, so that epoll sends them with one sendmmsg; replies that arrive later
 * (forwarded queries) are flushed at once.
 */
final class UdpQueryHandler extends SimpleChannelInboundHandler<DatagramPacket> {

    private static final Logger log = LoggerFactory.getLogger(UdpQueryHandler.class);

    private final QueryService service;
    private final SourceRateLimit rateLimit;
    private final EgressListener listener;
    /** Inside a read batch; read and written on the channel's event loop only. */
    private boolean reading;

    UdpQueryHandler(QueryService service, SourceRateLimit rateLimit, EgressListener listener) {
        this.service = service;
        this.rateLimit = rateLimit;
        this.listener = listener;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, DatagramPacket packet) {
        reading = true;
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

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        reading = false;
        ctx.flush();
        ctx.fireChannelReadComplete();
    }

    private void send(ChannelHandlerContext ctx, InetSocketAddress client, byte[] answer) {
        // Straight into a (pooled) direct buffer: a heap one would be copied into one to be sent.
        DatagramPacket reply = new DatagramPacket(ctx.alloc().directBuffer(answer.length).writeBytes(answer), client);
        // A failed send reaches exceptionCaught (void promise: no future and listener per reply).
        if (ctx.executor().inEventLoop() && reading) {
            ctx.write(reply, ctx.voidPromise());
        } else {
            ctx.writeAndFlush(reply, ctx.voidPromise());
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        // This socket serves its share of the port's clients: log and keep it open, whatever happened (a reply
        // that could not be sent ends up here too).
        log.debug("UDP listener error: {}", cause.toString());
    }
}
