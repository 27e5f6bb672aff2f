package io.egressd.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.flush.FlushConsolidationHandler;
import java.util.function.Supplier;

/**
 * LittleProxy's client worker group, wrapped so that every accepted channel gets an
 * {@link EgressGate} before it reads a byte. LittleProxy has no hook into its client
 * pipeline; registration with the worker group is the one step every accepted channel
 * passes through after LittleProxy's initializer is attached and before it runs.
 */
final class GateInstallingGroup extends RegisteringGroup {

    /** The name of LittleProxy's own handler in the client pipeline; the gate goes just before it. */
    static final String LITTLEPROXY_HANDLER = "handler";
    static final String GATE = "egressd-gate";
    static final String HEAD_WATCH = "egressd-head-watch";
    static final String FLUSHES = "egressd-flushes";

    private final Supplier<? extends ChannelHandler> gates;

    GateInstallingGroup(EventLoopGroup delegate, Supplier<? extends ChannelHandler> gates) {
        super(delegate);
        this.gates = gates;
    }

    @Override
    void registering(Channel channel) {
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
                    // Ahead of the HTTP decoder: sees raw bytes, for the header timeout.
                    ch.pipeline().addFirst(HEAD_WATCH, egressGate.headWatch());
                }
                TrackerMonitors.remove(ch.pipeline(), TrackerMonitors.CLIENT);
                // LittleProxy flushes every message it writes: a response head and its body went out in
                // two writes. Flushes made while the upstream's read runs (on this same loop) now go out
                // in one system call once it is done; a close still flushes what is pending first.
                ch.pipeline().addFirst(FLUSHES, new FlushConsolidationHandler(
                        FlushConsolidationHandler.DEFAULT_EXPLICIT_FLUSH_AFTER_FLUSHES, true));
            }
        });
    }
}
