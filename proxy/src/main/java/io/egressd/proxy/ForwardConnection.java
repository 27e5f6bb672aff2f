package io.egressd.proxy;

import io.egressd.policy.Decision;
import io.egressd.policy.Forward;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import io.egressd.policy.ServerPolicy;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection to a TCP forward: decided like a CONNECT to the forward's target by the
 * forward's server (the name looked up again for every connection, vetted, pinned), then
 * spliced. Refused or failed: the client's connection is reset.
 *
 * <p>Everything runs on the channel's event loop; the client is not read until the splice.
 */
final class ForwardConnection extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(ForwardConnection.class);

    private final StreamConfig config;
    private final Forward forward;
    private final Counted counted;
    private long startNanos;
    private boolean spliced;
    private StreamSession session;
    private Channel upstream;

    ForwardConnection(StreamConfig config, Forward forward, Counted counted) {
        this.config = config;
        this.forward = forward;
        this.counted = counted;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        super.channelActive(ctx);
        startNanos = System.nanoTime();
        Policy policy = config.policies().get();
        String host = forward.to().host();
        int port = forward.to().port();
        ServerPolicy server = policy.server(forward.server());
        if (server != null && !declares(server)) {
            // A reload removed or changed this forward: the listener stays until restart, and refuses.
            deny(ctx, policy.refusal(Reason.HOST_NOT_ALLOWED, forward.server(), host, port));
            return;
        }
        // Past max_connections (per source): the forward's server is known, so the refusal is audited.
        if (counted.refused() != null || !counted.admitServer(forward.server())) {
            deny(ctx, policy.refusal(Reason.LIMIT_EXCEEDED, forward.server(), host, port));
            return;
        }
        CompletableFuture<StreamVerdict> verdict = config.decider().decide(policy, forward.server(), host, port);
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

    private boolean declares(ServerPolicy server) {
        for (Forward f : server.forwards()) {
            if (f.listen().equals(forward.listen()) && f.to().equals(forward.to())) {
                return true;
            }
        }
        return false;
    }

    private void decided(ChannelHandlerContext ctx, StreamVerdict verdict) {
        if (!ctx.channel().isActive() || verdict == null) {
            reset(ctx);
            return;
        }
        switch (verdict.kind()) {
            case DENY -> deny(ctx, verdict.decision());
            case LOOKUP_FAILED -> {
                log.debug("forward {}: {}", forward.id(), verdict.message());
                deny(ctx, verdict.decision());
            }
            case CONNECT -> connect(ctx, verdict);
        }
    }

    private void deny(ChannelHandlerContext ctx, Decision decision) {
        config.listener().decided(Protocol.TCP, client(ctx), decision);
        reset(ctx);
    }

    private void connect(ChannelHandlerContext ctx, StreamVerdict verdict) {
        session = new StreamSession(Protocol.TCP, client(ctx), verdict.decision(), config.listener());
        long left = config.connectTimeout().toMillis() - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
        long connectStarted = System.nanoTime();
        ChannelFuture connecting = Upstream.connect(ctx.channel(), verdict.dial(), left);
        upstream = connecting.channel();
        connecting.addListener((ChannelFuture done) -> {
            if (!done.isSuccess()) {
                log.debug("forward {}: connecting to {} failed: {}", forward.id(), verdict.dial(),
                        done.cause().toString());
                session.end();
                reset(ctx);
            } else if (!ctx.channel().isActive()) {
                upstream.close();
            } else {
                config.listener().upstreamConnected(Protocol.TCP, verdict.decision(),
                        System.nanoTime() - connectStarted);
                spliced = true;
                upstream.pipeline().addLast("splice", new Splice(ctx.channel(), session, false));
                ctx.pipeline().replace(this, "splice", new Splice(upstream, session, true));
                upstream.config().setAutoRead(true);
                ctx.channel().config().setAutoRead(true);
            }
        });
    }

    /** A refused forward looks like a failed connection to the client: RST, not an orderly close. */
    private static void reset(ChannelHandlerContext ctx) {
        if (ctx.channel().isOpen()) {
            ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
            ctx.close();
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (!spliced) {
            if (upstream != null) {
                upstream.close();
            }
            if (session != null) {
                session.end();
            }
        }
        super.channelInactive(ctx);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    private static InetSocketAddress client(ChannelHandlerContext ctx) {
        return ctx.channel().remoteAddress() instanceof InetSocketAddress a ? a : null;
    }
}
