package io.egressd.proxy;

import io.netty.channel.AbstractEventLoopGroup;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;

/**
 * One of LittleProxy's event loop groups, wrapped to see each channel as it is registered:
 * LittleProxy has no hooks into its pipelines or its listener, and registration is the one
 * step every channel it creates passes through.
 */
abstract class RegisteringGroup extends AbstractEventLoopGroup {

    private final EventLoopGroup delegate;

    RegisteringGroup(EventLoopGroup delegate) {
        this.delegate = delegate;
    }

    /** Called for each channel just before it is registered with the wrapped group. */
    abstract void registering(Channel channel);

    EventLoopGroup delegate() {
        return delegate;
    }

    // Registered with next(), as the wrapped group would itself, so that a subclass choosing the
    // loop (CallerLoopGroup) only overrides next().
    @Override
    public ChannelFuture register(Channel channel) {
        registering(channel);
        return next().register(channel);
    }

    @Override
    public ChannelFuture register(ChannelPromise promise) {
        registering(promise.channel());
        return next().register(promise);
    }

    @Deprecated
    @Override
    public ChannelFuture register(Channel channel, ChannelPromise promise) {
        registering(channel);
        return next().register(channel, promise);
    }

    @Override
    public EventLoop next() {
        return delegate.next();
    }

    @Override
    public Iterator<EventExecutor> iterator() {
        return delegate.iterator();
    }

    @Override
    public boolean isShuttingDown() {
        return delegate.isShuttingDown();
    }

    @Override
    public Future<?> shutdownGracefully(long quietPeriod, long timeout, TimeUnit unit) {
        return delegate.shutdownGracefully(quietPeriod, timeout, unit);
    }

    @Override
    public Future<?> terminationFuture() {
        return delegate.terminationFuture();
    }

    @Deprecated
    @Override
    public void shutdown() {
        delegate.shutdown();
    }

    @Override
    public boolean isShutdown() {
        return delegate.isShutdown();
    }

    @Override
    public boolean isTerminated() {
        return delegate.isTerminated();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        return delegate.awaitTermination(timeout, unit);
    }
}
