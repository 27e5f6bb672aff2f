package io.egressd.proxy;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * LittleProxy's upstream group: an upstream channel opened from one of the client loops is
 * registered on that same loop. A tunnel's two channels then share one thread, so every byte
 * relayed is a direct call instead of a task handed to another thread (and no second pool of
 * threads competes with the first for the machine's cores). From any other thread it falls
 * back to the group's own choice. Shutting down is left to the owner of the delegate.
 */
final class CallerLoopGroup extends RegisteringGroup {

    CallerLoopGroup(EventLoopGroup delegate) {
        super(delegate);
    }

    @Override
    void registering(Channel channel) {
        RelayBuffers.apply(channel);
        TrackerMonitors.removeFromUpstream(channel);
    }

    @Override
    public EventLoop next() {
        for (EventExecutor loop : delegate()) {
            if (loop.inEventLoop()) {
                return (EventLoop) loop;
            }
        }
        return delegate().next();
    }

    @Override
    public Future<?> shutdownGracefully(long quietPeriod, long timeout, TimeUnit unit) {
        return delegate().terminationFuture();
    }

    @Deprecated
    @Override
    public void shutdown() {
        // The client group's owner stops it.
    }
}
