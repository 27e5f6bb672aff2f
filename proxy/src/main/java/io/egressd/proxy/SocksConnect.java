package io.egressd.proxy;

import io.egressd.policy.Decision;
import io.egressd.policy.Identity;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.socksx.v5.Socks5AddressType;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequest;
import io.netty.handler.codec.socksx.v5.Socks5CommandStatus;
import io.netty.handler.codec.socksx.v5.Socks5CommandType;
import io.netty.util.ReferenceCountUtil;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * The SOCKS5 request (RFC 1928 section 4): CONNECT only, decided like an HTTP CONNECT, then
 * the upstream connection to the vetted address and the splice. BIND and UDP ASSOCIATE get
 * 0x07, a refusal 0x02 (not allowed by ruleset; also a server over its connection cap or request
 * rate, {@code limit_exceeded}); either way the connection closes.
 *
 * <p>Everything runs on the channel's event loop. The client is not read while the request is
 * decided and connected; bytes it sent early are kept and go upstream first.
 */
final class SocksConnect extends ChannelInboundHandlerAdapter {

    private final StreamConfig config;
    private final Counted counted;
    private final String authenticated;
    private final Deque<ByteBuf> early = new ArrayDeque<>();
    private boolean requested;
    private boolean spliced;
    private long startNanos;
    private StreamSession session;
    private Channel upstream;

    /** @param authenticated the server RFC 1929 credentials identified, or null to identify the client now */
    SocksConnect(StreamConfig config, Counted counted, String authenticated) {
        this.config = config;
        this.counted = counted;
        this.authenticated = authenticated;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!requested && msg instanceof Socks5CommandRequest request) {
            requested = true;
            try {
                request(ctx, request);
            } finally {
                ReferenceCountUtil.release(msg);
            }
        } else if (requested && msg instanceof ByteBuf bytes) {
            early.add(bytes);
        } else {
            ReferenceCountUtil.release(msg);
            ctx.close();
        }
    }

    private void request(ChannelHandlerContext ctx, Socks5CommandRequest request) {
        if (request.decoderResult().isFailure()) {
            String problem = String.valueOf(request.decoderResult().cause().getMessage());
            reply(ctx, problem.contains("address type") ? Socks5CommandStatus.ADDRESS_UNSUPPORTED
                    : Socks5CommandStatus.FAILURE);
            return;
        }
        if (request.type() != Socks5CommandType.CONNECT) {
            reply(ctx, Socks5CommandStatus.COMMAND_UNSUPPORTED);
            return;
        }
        ctx.channel().config().setAutoRead(false);
        startNanos = System.nanoTime();
        // One policy per request: a reload in between is seen whole or not at all.
        Policy policy = config.policies().get();
        String host = request.dstAddrType() == Socks5AddressType.IPv6 ? "[" + request.dstAddr() + "]"
                : request.dstAddr();
        int port = request.dstPort();
        String server = authenticated;
        if (server == null) {
            InetSocketAddress client = client(ctx);
            Identity identity = policy.identify(config.boundServer(), null, null,
                    client == null ? null : client.getAddress());
            if (!identity.known()) {
                deny(ctx, policy.refusal(identity.failure(), null, host, port));
                return;
            }
            server = identity.server();
        }
        if (!counted.admitServer(server)) {
            deny(ctx, policy.refusal(Reason.LIMIT_EXCEEDED, server, host, port));
            return;
        }
        CompletableFuture<StreamVerdict> verdict = config.decider().decide(policy, server, host, port);
        if (verdict.isDone()) {
            decided(ctx, verdict.getNow(null));
            return;
        }
        // Completes on the resolver's thread; the rest belongs on this channel's loop.
        verdict.whenComplete((v, error) -> {
            try {
                ctx.executor().execute(() -> decided(ctx, v));
            } catch (RejectedExecutionException e) {
                // Shutting down: the channel is closing anyway.
            }
        });
    }

    private void decided(ChannelHandlerContext ctx, StreamVerdict verdict) {
        if (!ctx.channel().isActive() || verdict == null) {
            ctx.close();
            return;
        }
        switch (verdict.kind()) {
            case DENY -> deny(ctx, verdict.decision());
            case LOOKUP_FAILED -> {
                config.listener().decided(Protocol.SOCKS5, client(ctx), verdict.decision());
                reply(ctx, Socks5CommandStatus.HOST_UNREACHABLE);
            }
            case CONNECT -> connect(ctx, verdict);
        }
    }

    private void deny(ChannelHandlerContext ctx, Decision decision) {
        config.listener().decided(Protocol.SOCKS5, client(ctx), decision);
        reply(ctx, Socks5CommandStatus.FORBIDDEN);
    }

    private void connect(ChannelHandlerContext ctx, StreamVerdict verdict) {
        session = new StreamSession(Protocol.SOCKS5, client(ctx), verdict.decision(), config.listener());
        long left = config.connectTimeout().toMillis() - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
        long connectStarted = System.nanoTime();
        ChannelFuture connecting = Upstream.connect(ctx.channel(), verdict.dial(), left);
        upstream = connecting.channel();
        connecting.addListener((ChannelFuture done) -> {
            if (!done.isSuccess()) {
                session.end();
                reply(ctx, SocksReplies.of(Upstream.classify(done.cause())));
            } else if (!ctx.channel().isActive()) {
                upstream.close();
            } else {
                config.listener().upstreamConnected(Protocol.SOCKS5, verdict.decision(),
                        System.nanoTime() - connectStarted);
                ctx.writeAndFlush(SocksReplies.connected((InetSocketAddress) upstream.localAddress()));
                splice(ctx);
            }
        });
    }

    /** Hands both channels to {@link Splice}; the SOCKS5 codec leaves the pipeline. */
    private void splice(ChannelHandlerContext ctx) {
        spliced = true;
        ByteBuf bytes;
        while ((bytes = early.poll()) != null) {
            session.sent(bytes.readableBytes());
            upstream.write(bytes, upstream.voidPromise());
        }
        upstream.flush();
        upstream.pipeline().addLast("splice", new Splice(ctx.channel(), session, false));
        ChannelPipeline pipeline = ctx.pipeline();
        pipeline.replace(this, "splice", new Splice(upstream, session, true));
        // Removing the decoder hands any bytes it still holds to the splice, in order.
        pipeline.remove(SocksHandshake.DECODER);
        pipeline.remove(SocksHandshake.ENCODER);
        upstream.config().setAutoRead(true);
        ctx.channel().config().setAutoRead(true);
    }

    private void reply(ChannelHandlerContext ctx, Socks5CommandStatus status) {
        ctx.writeAndFlush(SocksReplies.failure(status)).addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        release();
        super.channelInactive(ctx);
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (!spliced) {
            release(); // closed before the splice: nothing will take these over
        }
    }

    private void release() {
        ByteBuf bytes;
        while ((bytes = early.poll()) != null) {
            bytes.release();
        }
        if (!spliced) {
            if (upstream != null) {
                upstream.close();
            }
            if (session != null) {
                session.end();
            }
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    private static InetSocketAddress client(ChannelHandlerContext ctx) {
        return ctx.channel().remoteAddress() instanceof InetSocketAddress a ? a : null;
    }
}
