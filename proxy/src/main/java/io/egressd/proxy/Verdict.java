package io.egressd.proxy;

import io.egressd.policy.Decision;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * What the proxy does with one request: forward it to the vetted address, or answer it.
 *
 * @param kind     which answer
 * @param decision the policy's decision; for {@link Kind#UPSTREAM_FAILURE} after a failed lookup the refusal
 *                 to audit ({@code address_not_allowed}: no address came back to allow), else null there;
 *                 null for {@link Kind#BAD_REQUEST}
 * @param target   the parsed destination; null for {@link Kind#BAD_REQUEST}
 * @param status   the status to answer with, for the kinds that answer
 * @param message  a sentence for people, for {@link Kind#BAD_REQUEST} and {@link Kind#UPSTREAM_FAILURE}
 */
record Verdict(Kind kind, Decision decision, RequestTarget target, HttpResponseStatus status, String message) {

    enum Kind {
        /** Allowed: hand the request to LittleProxy, which dials {@code decision.address()}. */
        FORWARD,
        /** 403 with {@code X-Egressd-Denied}. */
        DENY,
        /** 407: credentials could identify the client, and were missing or wrong. */
        CHALLENGE,
        /** 400: not a proxy request. */
        BAD_REQUEST,
        /** 502 or 504: the name did not resolve in time. Not a policy decision. */
        UPSTREAM_FAILURE
    }

    static Verdict of(Decision decision, RequestTarget target) {
        return decision.allowed()
                ? new Verdict(Kind.FORWARD, decision, target, HttpResponseStatus.OK, null)
                : new Verdict(Kind.DENY, decision, target, HttpResponseStatus.FORBIDDEN, null);
    }

    static Verdict challenge(Decision decision, RequestTarget target) {
        return new Verdict(Kind.CHALLENGE, decision, target, HttpResponseStatus.PROXY_AUTHENTICATION_REQUIRED, null);
    }

    static Verdict badRequest(String message) {
        return new Verdict(Kind.BAD_REQUEST, null, null, HttpResponseStatus.BAD_REQUEST, message);
    }

    static Verdict upstreamFailure(RequestTarget target, HttpResponseStatus status, String message) {
        return new Verdict(Kind.UPSTREAM_FAILURE, null, target, status, message);
    }

    /** 502 for a name that did not resolve (refused, no such name or timed out), audited as {@code refusal}. */
    static Verdict lookupFailed(Decision refusal, RequestTarget target, String message) {
        return new Verdict(Kind.UPSTREAM_FAILURE, refusal, target, HttpResponseStatus.BAD_GATEWAY, message);
    }
}
