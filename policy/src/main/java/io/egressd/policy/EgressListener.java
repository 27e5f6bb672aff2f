package io.egressd.policy;

import java.net.InetSocketAddress;

/**
 * Where the proxy and DNS fronts report what they decided, so that audit and metrics (which
 * the daemon implements) see every front the same way. Calls come from I/O threads: an
 * implementation must not block for long, and must never lose an event.
 */
public interface EgressListener {

    EgressListener NONE = new EgressListener() { };

    /** A connection attempt was decided: every refusal, and every allowed connection as it opens. */
    default void decided(Protocol protocol, InetSocketAddress client, Decision decision) {
    }

    /** An allowed connection closed; bytes are as seen by the proxy (sent = client to upstream). */
    default void closed(Protocol protocol, InetSocketAddress client, Decision decision,
                        long bytesSent, long bytesReceived, long durationMillis) {
    }

    /** An allowed connection's upstream TCP connection opened, {@code connectNanos} after it was begun. */
    default void upstreamConnected(Protocol protocol, Decision decision, long connectNanos) {
    }

    /** A DNS query was answered: allowed (forwarded or cached) or refused locally. */
    default void queried(InetSocketAddress client, Decision decision, String qname, String qtype, String rcode) {
    }

    /**
     * A client connection was closed before, or without, a decision about a destination: at
     * accept (over a connection cap, unknown source) or by a timeout. No client address is
     * passed: a flood must not become a flood of audit lines or metric series.
     */
    default void rejected(Front front, Rejection why) {
    }

    /** A UDP DNS query was dropped unanswered ({@link Rejection#RATE_LIMITED}). */
    default void queryDropped(Rejection why) {
    }
}
