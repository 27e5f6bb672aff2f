package io.egressd.proxy;

import io.egressd.policy.Decision;
import io.egressd.policy.Protocol;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.EventExecutor;
import java.net.InetSocketAddress;
import java.util.concurrent.RejectedExecutionException;

/**
 * One allowed request on its way through LittleProxy: the decision, the pinned address to
 * dial, and the byte counts for the audit event at close.
 *
 * <p>The gate owns it and touches it only on the client channel's event loop; LittleProxy's
 * filter reports upstream progress, which the exchange hands back to that loop.
 */
final class Exchange {

    /** Where the gate leaves the exchange for the filter LittleProxy creates for the same request. */
    static final AttributeKey<Exchange> NEXT = AttributeKey.valueOf("egressd.exchange");

    final Protocol protocol;
    final InetSocketAddress client;
    final Decision decision;
    /** The vetted address and port: the only place this exchange may connect to. */
    final InetSocketAddress dial;

    private final EgressGate gate;
    private final EventExecutor loop;
    private final long startNanos = System.nanoTime();

    long bytesSent;
    long bytesReceived;
    boolean responded;
    boolean finished;
    /** Written by LittleProxy's threads, read by the gate's loop. */
    private volatile boolean connectStarted;

    Exchange(Protocol protocol, InetSocketAddress client, Decision decision, InetSocketAddress dial,
             EgressGate gate, EventExecutor loop) {
        this.protocol = protocol;
        this.client = client;
        this.decision = decision;
        this.dial = dial;
        this.gate = gate;
        this.loop = loop;
    }

    boolean connectStarted() {
        return connectStarted;
    }

    long elapsedMillis() {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }

    /** LittleProxy began opening the upstream connection (called during the gate's own read). */
    void upstreamConnecting() {
        connectStarted = true;
    }

    /** LittleProxy's upstream connection is up; called on an upstream I/O thread. */
    void upstreamConnected() {
        try {
            loop.execute(() -> gate.upstreamConnected(this));
        } catch (RejectedExecutionException e) {
            // Shutting down: the channel is closing anyway.
        }
    }
}
