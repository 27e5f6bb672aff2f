package io.egressd.proxy;

import io.egressd.policy.Decision;
import java.net.InetSocketAddress;

/**
 * What a SOCKS5 request or a forwarded connection gets: a connection to the vetted address,
 * or a refusal (every one carries the decision to audit and count).
 *
 * @param kind     which of these
 * @param decision the policy's decision; for {@link Kind#LOOKUP_FAILED} the refusal to audit
 *                 ({@code address_not_allowed}: no address came back to allow)
 * @param dial     where to connect, for {@link Kind#CONNECT}
 * @param message  a sentence for logs, for a failed lookup
 */
record StreamVerdict(Kind kind, Decision decision, InetSocketAddress dial, String message) {

    enum Kind {
        /** Allowed: connect to {@code dial}. */
        CONNECT,
        /** Refused by the policy (or a limit). */
        DENY,
        /** The name did not resolve, or not in time. */
        LOOKUP_FAILED
    }

    static StreamVerdict connect(Decision decision, InetSocketAddress dial) {
        return new StreamVerdict(Kind.CONNECT, decision, dial, null);
    }

    static StreamVerdict deny(Decision decision) {
        return new StreamVerdict(Kind.DENY, decision, null, null);
    }

    static StreamVerdict lookupFailed(Decision refusal, String message) {
        return new StreamVerdict(Kind.LOOKUP_FAILED, refusal, null, message);
    }
}
