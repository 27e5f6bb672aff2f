package io.egressd.proxy;

import io.netty.channel.AbstractEventLoopGroup;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPromise;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Future;
import java.util.Iterator;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * LittleProxy's client worker group, wrapped so that every accepted channel gets an
 * {@link EgressGate} before it reads a byte. LittleProxy has no hook into its client
 * pipeline; registration with the worker group is the one step every accepted channel
 * passes through after LittleProxy's initializer is attached and before it runs.
 */
final class GateInstallingGroup extends AbstractEventLoopGroup {

    /** The name of LittleProxy's own handler in the client pipeline; the gate goes just before it. */
    static final String LITTLEPROXY_HANDLER = "handler";
    static final String GATE = "egressd-gate";
    static final String HEAD_WATCH = "egressd-head-watch";

    private final EventLoopGroup delegate;
    private final Supplier<? extends ChannelHandler> gates;

    GateInstallingGroup(EventLoopGroup delegate, Supplier<? extends ChannelHandler> gates) {
        this.delegate = delegate;
        this.gates = gates;
    }

    private void install(Channel channel) {
        RelayBuffers.apply(channel);
        // Runs after LittleProxy's initializer (added first, so initialized first) built the pipeline.
        channel.pipeline().addLast(new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                // Fails (and Netty closes the channel) if LittleProxy ever renames its handler: fail closed.
                ChannelHandler gate = gates.get();
                ch.pipeline().addBefore(LITTLEPROXY_HANDLER, GATE, gate);
                // Likewise if it renames its decoder: request heads are only ever read strictly.
                ch.pipeline().replace(StrictRequestDecoder.NAME, StrictRequestDecoder.NAME, new StrictRequestDecoder());
                if (gate instanceof EgressGate egressGate) {
                    // First in the pipeline: sees raw bytes before the HTTP decoder, for the header timeout.
                    ch.pipeline().addFirst(HEAD_WATCH, egressGate.headWatch());
                }
            }
        });
    }

    @Override
    public ChannelFuture register(Channel channel) {
        install(channel);
        return delegate.register(channel);
    }

    @Override
    public ChannelFuture register(ChannelPromise promise) {
        install(promise.channel());
        return delegate.register(promise);
    }

    @Deprecated
    @Override
    public ChannelFuture register(Channel channel, ChannelPromise promise) {
        install(channel);
        return delegate.register(channel, promise);
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
