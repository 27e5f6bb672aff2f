package io.egressd.proxy;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.util.Locale;

/** Opens the upstream connection of a stream, on the client channel's own event loop. */
final class Upstream {

    /** Why a connection failed, in the terms a SOCKS5 reply has. */
    enum Failure {
        REFUSED, TIMED_OUT, HOST_UNREACHABLE, NETWORK_UNREACHABLE, OTHER
    }

    private Upstream() {
    }

    /**
     * Connects to {@code address}; the upstream does not read until the splice is in place.
     * The same loop as the client: relaying between the two then needs no hand-off between threads.
     */
    static ChannelFuture connect(Channel client, InetSocketAddress address, long timeoutMillis) {
        ChannelFuture connecting = new Bootstrap()
                .group(client.eventLoop())
                .channel(NioSocketChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.max(1, Math.min(Integer.MAX_VALUE,
                        timeoutMillis)))
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInboundHandlerAdapter())
                .connect(address);
        RelayBuffers.apply(connecting.channel());
        return connecting;
    }

    /** Why connecting failed, for the one line of a 502. */
    static String describe(Throwable cause) {
        return switch (classify(cause)) {
            case REFUSED -> "connection refused";
            case TIMED_OUT -> "timed out";
            case HOST_UNREACHABLE -> "no route to host";
            case NETWORK_UNREACHABLE -> "network is unreachable";
            case OTHER -> String.valueOf(cause.getMessage());
        };
    }

    static Failure classify(Throwable cause) {
        if (cause instanceof ConnectTimeoutException) {
            return Failure.TIMED_OUT;
        }
        if (cause instanceof NoRouteToHostException) {
            return Failure.HOST_UNREACHABLE;
        }
        if (cause instanceof ConnectException) {
            String message = String.valueOf(cause.getMessage()).toLowerCase(Locale.ROOT);
            if (message.contains("refused")) {
                return Failure.REFUSED;
            }
            if (message.contains("network is unreachable")) {
                return Failure.NETWORK_UNREACHABLE;
            }
            if (message.contains("no route") || message.contains("host is unreachable")) {
                return Failure.HOST_UNREACHABLE;
            }
            if (message.contains("timed out")) {
                return Failure.TIMED_OUT;
            }
        }
        return Failure.OTHER;
    }
}
