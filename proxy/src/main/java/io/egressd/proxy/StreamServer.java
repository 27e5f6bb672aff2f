package io.egressd.proxy;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The threads and listening sockets of a stream front. Client and upstream connections share
 * the worker loops (each upstream on its client's loop); closing stops every connection.
 */
final class StreamServer implements AutoCloseable {

    private final EventLoopGroup acceptors;
    private final EventLoopGroup workers;
    private final ChannelGroup channels = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private final List<Channel> listeners = new ArrayList<>();
    private final Duration idleTimeout;

    StreamServer(String name, ProxySettings settings) {
        this.acceptors = new MultiThreadIoEventLoopGroup(settings.acceptorThreads(),
                new DefaultThreadFactory(name + "-accept", true), NioIoHandler.newFactory());
        this.workers = new MultiThreadIoEventLoopGroup(settings.clientThreads(),
                new DefaultThreadFactory(name, true), NioIoHandler.newFactory());
        this.idleTimeout = settings.idleTimeout();
    }

    /**
     * Listens on {@code address}; each accepted connection gets the idle timeout, then
     * {@code front} adds the handlers of the front.
     *
     * @param autoRead whether accepted connections read at once (a forward waits for its decision)
     * @param idleCloser closes (and reports) a connection at the idle timeout; shared by every connection
     * @throws UncheckedIOException when the address cannot be bound
     */
    Channel bind(InetSocketAddress address, boolean autoRead, IdleCloser idleCloser, Consumer<SocketChannel> front) {
        ServerBootstrap bootstrap = new ServerBootstrap()
                .group(acceptors, workers)
                .channel(NioServerSocketChannel.class)
                .option(ChannelOption.SO_BACKLOG, 1024)
                .childOption(ChannelOption.AUTO_READ, autoRead)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        channels.add(ch);
                        RelayBuffers.apply(ch);
                        ch.pipeline().addLast("idle", new IdleStateHandler(0, 0, idleTimeout.toMillis(),
                                TimeUnit.MILLISECONDS));
                        ch.pipeline().addLast("idle-close", idleCloser);
                        front.accept(ch);
                    }
                });
        ChannelFuture bound = bootstrap.bind(address).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            Throwable cause = bound.cause();
            String message = "cannot listen on " + address.getAddress().getHostAddress() + ":" + address.getPort()
                    + ": " + cause.getMessage();
            throw new UncheckedIOException(message, cause instanceof IOException io ? io : new IOException(cause));
        }
        listeners.add(bound.channel());
        channels.add(bound.channel());
        return bound.channel();
    }

    /** Closes the listening sockets: new connections are refused, open ones carry on. */
    void stopAccepting() {
        for (Channel listener : listeners) {
            listener.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    @Override
    public void close() {
        channels.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        acceptors.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
