package io.egressd.proxy;

import io.egressd.policy.Decision;
import io.egressd.policy.Evaluation;
import io.egressd.policy.Identity;
import io.egressd.policy.Policy;
import io.egressd.policy.Reason;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns one proxy request into a {@link Verdict}: design.md section 5, steps 1-6, plus the
 * name lookup, which is asynchronous. Refusals never cost a lookup. Any exception on the way
 * becomes a 403, so a bug fails closed with an answer rather than a dropped connection.
 */
final class RequestDecider {

    private static final Logger log = LoggerFactory.getLogger(RequestDecider.class);

    private final Supplier<Policy> policies;
    private final String boundServer;
    private final AsyncNameResolver resolver;
    private final Duration lookupTimeout;
    private final Predicate<InetAddress> dialable;

    RequestDecider(Supplier<Policy> policies, String boundServer, AsyncNameResolver resolver,
                   Duration lookupTimeout, Predicate<InetAddress> dialable) {
        this.policies = policies;
        this.boundServer = boundServer;
        this.resolver = resolver;
        this.lookupTimeout = lookupTimeout;
        this.dialable = dialable;
    }

    /**
     * Decides; the future is already complete unless a name had to be resolved, in which case
     * it completes on the resolver's thread. It never completes exceptionally.
     *
     * @param admit     asked, on the calling thread, once the server is identified: false refuses the request
     *                  with {@code limit_exceeded} (the server is over its connection or request limits)
     */
    CompletableFuture<Verdict> decide(HttpRequest request, InetSocketAddress client, Predicate<String> admit) {
        RequestTarget target;
        try {
            target = RequestTarget.of(request);
        } catch (RequestTarget.NotProxyRequest e) {
            return CompletableFuture.completedFuture(Verdict.badRequest(e.getMessage()));
        }
        // One policy per request: a reload between two requests is seen whole or not at all.
        Policy policy = policies.get();
        Attempt attempt = new Attempt(policy, target);
        try {
            return attempt.decide(request, client, admit);
        } catch (RuntimeException e) {
            return CompletableFuture.completedFuture(attempt.failedClosed(e));
        }
    }

    /** The state of one decision, so that a failure at any step can still name what it knew. */
    private final class Attempt {
        private final Policy policy;
        private final RequestTarget target;
        private String server;

        Attempt(Policy policy, RequestTarget target) {
            this.policy = policy;
            this.target = target;
        }

        CompletableFuture<Verdict> decide(HttpRequest request, InetSocketAddress client, Predicate<String> admit) {
            Identity identity = identify(request, client);
            if (!identity.known()) {
                Decision refusal = policy.refusal(identity.failure(), null, target.host(), target.port());
                return done(identity.challenge() ? Verdict.challenge(refusal, target) : Verdict.of(refusal, target));
            }
            server = identity.server();
            if (!admit.test(server)) {
                return done(refuse(Reason.LIMIT_EXCEEDED));
            }
            if (!target.valid()) {
                return done(refuse(Reason.INVALID_HOST));
            }
            Evaluation evaluation = policy.evaluate(server, target.host(), target.port());
            if (!evaluation.needsAddresses()) {
                return done(forwardable(evaluation.decision()));
            }
            CompletableFuture<List<InetAddress>> lookup;
            try {
                // copy(): the timeout is ours; the resolver's own future is left alone.
                lookup = resolver.resolve(evaluation.name()).copy();
            } catch (RuntimeException e) {
                lookup = CompletableFuture.failedFuture(e);
            }
            return lookup.orTimeout(lookupTimeout.toMillis(), TimeUnit.MILLISECONDS)
                    .handle((addresses, error) -> {
                        try {
                            if (error != null) {
                                return lookupFailed(evaluation.name(), error);
                            }
                            if (addresses == null || addresses.isEmpty()) {
                                return lookupFailed(evaluation.name(), new UnknownHostException(evaluation.name()));
                            }
                            return forwardable(evaluation.vet(addresses));
                        } catch (RuntimeException e) {
                            return failedClosed(e);
                        }
                    });
        }

        private Identity identify(HttpRequest request, InetSocketAddress client) {
            InetAddress source = client == null ? null : client.getAddress();
            if (boundServer != null) {
                return policy.identify(boundServer, null, null, source);
            }
            ProxyCredentials credentials = ProxyCredentials.of(request.headers());
            if (credentials.malformed()) {
                return Identity.failed(Reason.BAD_CREDENTIALS, true);
            }
            return policy.identify(null, credentials.user(), credentials.password(), source);
        }

        private Verdict forwardable(Decision decision) {
            if (decision.allowed() && (decision.address() == null || !dialable.test(decision.address()))) {
                // Cannot happen with a correct policy; refuse to dial rather than guess an address, and
                // as a refusal like any other (audited, counted): no address left is address_not_allowed
                // (design.md 5.4), a 502 like a name that does not resolve.
                log.warn("refusing {}:{} for {}: no dialable address for the allowed {}", decision.host(),
                        target.port(), server, decision.address());
                Decision refusal = policy.refusal(Reason.ADDRESS_NOT_ALLOWED, server, decision.host(), target.port());
                return Verdict.lookupFailed(refusal, target, "no dialable address for " + decision.host());
            }
            return Verdict.of(decision, target);
        }

        private Verdict refuse(Reason reason) {
            return Verdict.of(policy.refusal(reason, server, target.host(), target.port()), target);
        }

        /**
         * A lookup that failed is refused as address_not_allowed (design.md section 5, step 4: no address
         * left). Refused, no such name or no answer within the connect timeout: 502 alike (issue 9 item 2:
         * "502 for unresolvable names within its timeout"); 504 is for an upstream that does not answer.
         */
        private Verdict lookupFailed(String name, Throwable error) {
            Decision refusal = policy.refusal(Reason.ADDRESS_NOT_ALLOWED, server, name, target.port());
            return Verdict.lookupFailed(refusal, target, LookupFailure.describe(name, error, log));
        }

        /** A bug somewhere on the decision path: refuse, with the closest reason the contract has. */
        Verdict failedClosed(RuntimeException e) {
            log.warn("refusing {}:{} after an error while deciding", target.host(), target.port(), e);
            return Verdict.of(policy.refusal(Reason.INVALID_HOST, server, target.host(), target.port()), target);
        }

        private CompletableFuture<Verdict> done(Verdict verdict) {
            return CompletableFuture.completedFuture(verdict);
        }
    }
}
