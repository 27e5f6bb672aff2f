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
 * LittleProxy's upstream group: an upstream channel opened from one of the client loops is
 * registered on that same loop. A tunnel's two channels then share one thread, so every byte
 * relayed is a direct call instead of a task handed to another thread (and no second pool of
 * threads competes with the first for the machine's cores). From any other thread it falls
 * back to the group's own choice. Shutting down is left to the owner of the delegate.
 */
final class CallerLoopGroup extends AbstractEventLoopGroup {

    private final EventLoopGroup delegate;

    CallerLoopGroup(EventLoopGroup delegate) {
        this.delegate = delegate;
    }

    @Override
    public EventLoop next() {
        for (EventExecutor loop : delegate) {
            if (loop.inEventLoop()) {
                return (EventLoop) loop;
            }
        }
        return delegate.next();
    }

    @Override
    public ChannelFuture register(Channel channel) {
        RelayBuffers.apply(channel);
        TrackerMonitors.removeFromUpstream(channel);
        return next().register(channel);
    }

    @Override
    public ChannelFuture register(ChannelPromise promise) {
        RelayBuffers.apply(promise.channel());
        TrackerMonitors.removeFromUpstream(promise.channel());
        return next().register(promise);
    }

    @Deprecated
    @Override
    public ChannelFuture register(Channel channel, ChannelPromise promise) {
        RelayBuffers.apply(channel);
        TrackerMonitors.removeFromUpstream(channel);
        return next().register(channel, promise);
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
        return delegate.terminationFuture();
    }

    @Override
    public Future<?> terminationFuture() {
        return delegate.terminationFuture();
    }

    @Deprecated
    @Override
    public void shutdown() {
        // The client group's owner stops it.
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
