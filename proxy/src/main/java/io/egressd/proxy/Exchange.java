package io.egressd.proxy;

import io.egressd.policy.Decision;
import io.egressd.policy.Protocol;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AttributeKey;
import io.netty.util.concurrent.EventExecutor;
import java.net.InetSocketAddress;
import java.util.concurrent.RejectedExecutionException;

/**
 * One allowed request on its way through LittleProxy: the decision, the pinned address to
 * dial, how far the answer has come, and the byte counts for the audit event at close.
 *
 * <p>The gate owns it and touches it only on the client channel's event loop; LittleProxy's
 * filter reports upstream progress, which the exchange hands back to that loop.
 */
final class Exchange implements Splice.Tally {

    /** Where the gate leaves the exchange for the filter LittleProxy creates for the same request. */
    static final AttributeKey<Exchange> NEXT = AttributeKey.valueOf("egressd.exchange");

    /** What a message written to the client means for this exchange. */
    enum Progress {
        NOTHING,
        /** The head of the final HTTP response. */
        ANSWER_STARTED,
        /** The end of the final HTTP response (possibly together with its head). */
        ANSWER_ENDED
    }

    final Protocol protocol;
    final InetSocketAddress client;
    final Decision decision;
    /** The vetted address and port: the only place this exchange may connect to. */
    final InetSocketAddress dial;
    /** The client asked to close its connection after this exchange's answer (HTTP only). */
    final boolean clientCloses;

    private final EgressGate gate;
    private final EventExecutor loop;
    private final long startNanos = System.nanoTime();
    private long bytesSent;
    private long bytesReceived;
    private boolean answered;
    private boolean reported;
    /** Written by LittleProxy's threads, read by the gate's loop. */
    private volatile boolean connectStarted;
    /** When LittleProxy began connecting; read on the gate's loop after the connect completes. */
    private volatile long connectStartedNanos;
    /** The upstream sent nothing for the idle timeout; set on an upstream thread before LittleProxy's 504. */
    private volatile boolean upstreamTimedOut;

    Exchange(Protocol protocol, InetSocketAddress client, Decision decision, InetSocketAddress dial,
             boolean clientCloses, EgressGate gate, EventExecutor loop) {
        this.protocol = protocol;
        this.client = client;
        this.decision = decision;
        this.dial = dial;
        this.clientCloses = clientCloses;
        this.gate = gate;
        this.loop = loop;
    }

    boolean connectStarted() {
        return connectStarted;
    }

    boolean answered() {
        return answered;
    }

    /**
     * Whether the client connection closes after this exchange's answer: the client asked for it,
     * or the upstream went silent and LittleProxy answered 504 in its place. The upstream may still
     * answer later; on a kept-alive connection that answer would be taken for the next request's.
     */
    boolean closesAfterAnswer() {
        return clientCloses || upstreamTimedOut;
    }

    /** LittleProxy's idle timeout fired on the upstream connection before any answer. */
    void upstreamTimedOut() {
        upstreamTimedOut = true;
    }

    /** Client to upstream: an HTTP request body (the gate) or tunnel bytes (the tunnel's splice). */
    @Override
    public void sent(int bytes) {
        bytesSent += bytes;
    }

    /** Upstream to client, raw tunnel bytes (the tunnel's splice). */
    @Override
    public void received(int bytes) {
        bytesReceived += bytes;
    }

    /** A tunnel side closed; the gate reports the exchange once, when the client connection ends. */
    @Override
    public void end() {
    }

    /** Follows what LittleProxy writes back to the client for this exchange. */
    Progress observe(HttpObject msg) {
        boolean head = false;
        if (msg instanceof HttpResponse response) {
            int code = response.status().code();
            if (code < 200) {
                return Progress.NOTHING; // 100 Continue and friends: the real answer follows
            }
            answered = true;
            head = true;
        }
        if (protocol == Protocol.HTTP && msg instanceof HttpContent content) {
            bytesReceived += content.content().readableBytes();
            if (msg instanceof LastHttpContent && answered) {
                return Progress.ANSWER_ENDED;
            }
        }
        return head ? Progress.ANSWER_STARTED : Progress.NOTHING;
    }

    /** Reports the close to the listener, once. */
    void report(GuardedListener listener) {
        if (!reported) {
            reported = true;
            listener.closed(protocol, client, decision, bytesSent, bytesReceived,
                    (System.nanoTime() - startNanos) / 1_000_000);
        }
    }

    /** Opening the upstream connection began (LittleProxy's, during the gate's own read; or the gate's tunnel). */
    void upstreamConnecting() {
        connectStartedNanos = System.nanoTime();
        connectStarted = true;
    }

    /** How long the upstream connection took to open. */
    long connectNanos() {
        return System.nanoTime() - connectStartedNanos;
    }

    /**
     * An HTTP upstream connection of this client connection closed; called on the upstream's I/O
     * thread (normally the client's own loop: still handed on as a task, since the gate must not
     * run inside LittleProxy's callback), after LittleProxy has handed on everything the upstream sent.
     */
    void upstreamClosed(InetSocketAddress upstream) {
        try {
            loop.execute(() -> gate.upstreamClosed(upstream));
        } catch (RejectedExecutionException e) {
            // Shutting down: the channel is closing anyway.
        }
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
