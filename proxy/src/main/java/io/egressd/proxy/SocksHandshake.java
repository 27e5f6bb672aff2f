package io.egressd.proxy;

import io.egressd.policy.Identity;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.socksx.v5.DefaultSocks5InitialResponse;
import io.netty.handler.codec.socksx.v5.DefaultSocks5PasswordAuthResponse;
import io.netty.handler.codec.socksx.v5.Socks5AuthMethod;
import io.netty.handler.codec.socksx.v5.Socks5CommandRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequest;
import io.netty.handler.codec.socksx.v5.Socks5PasswordAuthRequest;
import io.netty.handler.codec.socksx.v5.Socks5PasswordAuthRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5PasswordAuthStatus;
import io.netty.util.ReferenceCountUtil;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * The SOCKS5 method negotiation (RFC 1928 section 3) and, when chosen, username/password
 * authentication (RFC 1929), which identifies the server by {@code proxy_user} and token.
 *
 * <p>A client that the listener (sidecar) or its source address already identifies is not
 * asked for credentials: Java's SOCKS client offers username/password even when it has none.
 * Any other client that offers username/password, where some server has {@code proxy_user},
 * must authenticate; wrong credentials get the RFC 1929 failure reply and the connection closes.
 */
final class SocksHandshake extends ChannelInboundHandlerAdapter {

    static final String DECODER = "socks-decoder";
    static final String ENCODER = "socks-encoder";

    private final StreamConfig config;
    private final Counted counted;
    private boolean passwordAsked;

    SocksHandshake(StreamConfig config, Counted counted) {
        this.config = config;
        this.counted = counted;
    }

    /** A connection over max_connections (per source) was not admitted: closed unread, before the greeting. */
    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        if (counted.refused() != null) {
            ctx.close();
            return;
        }
        super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (!passwordAsked && msg instanceof Socks5InitialRequest initial && initial.decoderResult().isSuccess()) {
                negotiate(ctx, initial.authMethods());
            } else if (passwordAsked && msg instanceof Socks5PasswordAuthRequest auth
                    && auth.decoderResult().isSuccess()) {
                authenticate(ctx, auth);
            } else {
                ctx.close(); // not SOCKS5 (SOCKS4, HTTP, garbage) or out of order
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void negotiate(ChannelHandlerContext ctx, List<Socks5AuthMethod> offered) {
        Policy policy = config.policies().get();
        boolean identifiedAlready = config.boundServer() != null
                || policy.identify(null, null, null, source(ctx)).known();
        boolean password = offered.contains(Socks5AuthMethod.PASSWORD);
        Socks5AuthMethod chosen;
        if (offered.contains(Socks5AuthMethod.NO_AUTH)
                && (identifiedAlready || !password || !policy.acceptsCredentials())) {
            chosen = Socks5AuthMethod.NO_AUTH;
        } else if (password) {
            chosen = Socks5AuthMethod.PASSWORD;
        } else {
            chosen = Socks5AuthMethod.UNACCEPTED;
        }
        ctx.writeAndFlush(new DefaultSocks5InitialResponse(chosen));
        if (chosen == Socks5AuthMethod.NO_AUTH) {
            proceed(ctx, null);
        } else if (chosen == Socks5AuthMethod.PASSWORD) {
            passwordAsked = true;
            ctx.pipeline().replace(DECODER, DECODER, new Socks5PasswordAuthRequestDecoder());
        } else {
            ctx.close();
        }
    }

    private void authenticate(ChannelHandlerContext ctx, Socks5PasswordAuthRequest auth) {
        Policy policy = config.policies().get();
        Identity identity = policy.identify(config.boundServer(), auth.username(), auth.password(), source(ctx));
        if (!identity.known()) {
            // No destination yet: the audit event names the failure and the client only.
            config.listener().decided(Protocol.SOCKS5, client(ctx), policy.refusal(identity.failure(), null, null, 0));
            ctx.writeAndFlush(new DefaultSocks5PasswordAuthResponse(Socks5PasswordAuthStatus.FAILURE))
                    .addListener(ChannelFutureListener.CLOSE);
            return;
        }
        ctx.writeAndFlush(new DefaultSocks5PasswordAuthResponse(Socks5PasswordAuthStatus.SUCCESS));
        proceed(ctx, identity.server());
    }

    /** On to the request; {@code server} is the authenticated server, or null to identify the client then. */
    private void proceed(ChannelHandlerContext ctx, String server) {
        ctx.pipeline().replace(DECODER, DECODER, new Socks5CommandRequestDecoder());
        ctx.pipeline().replace(this, "front", new SocksConnect(config, counted, server));
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }

    private static InetSocketAddress client(ChannelHandlerContext ctx) {
        return ctx.channel().remoteAddress() instanceof InetSocketAddress a ? a : null;
    }

    private static InetAddress source(ChannelHandlerContext ctx) {
        InetSocketAddress client = client(ctx);
        return client == null ? null : client.getAddress();
    }
}
