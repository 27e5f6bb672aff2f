package io.egressd.proxy;

import io.egressd.policy.Decision;
import io.egressd.policy.Evaluation;
import io.egressd.policy.Host;
import io.egressd.policy.InvalidHostException;
import io.egressd.policy.LearnedAddresses;
import io.egressd.policy.Policy;
import io.egressd.policy.Reason;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides one stream destination ({@code host:port} of a SOCKS5 request or a forward) exactly
 * as the HTTP proxy decides a CONNECT: evaluate, resolve asynchronously, vet, pin. IP literals
 * may also pass through the addresses the server learned from egressd's DNS. Refusals never
 * cost a lookup; any exception becomes a refusal.
 */
final class StreamDecider {

    private static final Logger log = LoggerFactory.getLogger(StreamDecider.class);

    private final AsyncNameResolver resolver;
    private final Duration lookupTimeout;
    private final LearnedAddresses learned;
    private final Route route;

    /** @param learned the DNS-learned addresses, or null when IP literals go by cidr rules only */
    StreamDecider(AsyncNameResolver resolver, Duration lookupTimeout, LearnedAddresses learned, Route route) {
        this.resolver = resolver;
        this.lookupTimeout = lookupTimeout;
        this.learned = learned;
        this.route = route;
    }

    /**
     * The verdict; already complete unless a name had to be resolved, then completed on the
     * resolver's thread. Never completes exceptionally.
     */
    CompletableFuture<StreamVerdict> decide(Policy policy, String server, String host, int port) {
        try {
            if (learned != null && policy.server(server) != null && literal(host) instanceof Host.Ip ip) {
                return done(connectable(policy, server, learned.decide(policy, server, ip, port), port));
            }
            Evaluation evaluation = policy.evaluate(server, host, port);
            if (!evaluation.needsAddresses()) {
                return done(connectable(policy, server, evaluation.decision(), port));
            }
            CompletableFuture<List<InetAddress>> lookup;
            try {
                // copy(): the timeout is ours; the resolver's own future is left alone.
                lookup = resolver.resolve(evaluation.name()).copy();
            } catch (RuntimeException e) {
                lookup = CompletableFuture.failedFuture(e);
            }
            return lookup.orTimeout(lookupTimeout.toMillis(), TimeUnit.MILLISECONDS).handle((addresses, error) -> {
                try {
                    if (error != null || addresses == null || addresses.isEmpty()) {
                        Decision refusal = policy.refusal(Reason.ADDRESS_NOT_ALLOWED, server, evaluation.name(), port);
                        return error != null ? lookupFailed(refusal, evaluation.name(), error)
                                : StreamVerdict.lookupFailed(refusal, evaluation.name() + " does not resolve");
                    }
                    return connectable(policy, server, evaluation.vet(addresses), port);
                } catch (RuntimeException e) {
                    return failedClosed(policy, server, host, port, e);
                }
            });
        } catch (RuntimeException e) {
            return done(failedClosed(policy, server, host, port, e));
        }
    }

    private static Host literal(String host) {
        try {
            return Host.parse(host);
        } catch (InvalidHostException e) {
            return null; // evaluate() refuses it as invalid_host
        }
    }

    private StreamVerdict connectable(Policy policy, String server, Decision decision, int port) {
        if (!decision.allowed()) {
            return StreamVerdict.deny(decision);
        }
        InetSocketAddress dial = decision.address() == null ? null
                : route.to(new InetSocketAddress(decision.address(), port));
        if (dial == null) {
            // Cannot happen in production (an allowed decision carries its address, dialed as it is);
            // tests reach it through a route that refuses. Refuse rather than guess an address, as a
            // refusal like any other: no address left to dial is address_not_allowed (design.md 5.4).
            log.warn("refusing {}:{} for {}: no dialable address for the allowed {}", decision.host(), port, server,
                    decision.address());
            return StreamVerdict.deny(policy.refusal(Reason.ADDRESS_NOT_ALLOWED, server, decision.host(), port));
        }
        return StreamVerdict.connect(decision, dial);
    }

    /** A lookup that failed is refused as address_not_allowed (design.md section 5, step 4: no address left). */
    private static StreamVerdict lookupFailed(Decision refusal, String name, Throwable error) {
        return StreamVerdict.lookupFailed(refusal, LookupFailure.describe(name, error, log));
    }

    /** A bug on the decision path: refuse, with the closest reason the contract has. */
    private static StreamVerdict failedClosed(Policy policy, String server, String host, int port,
                                              RuntimeException e) {
        log.warn("refusing {}:{} after an error while deciding", host, port, e);
        return StreamVerdict.deny(policy.refusal(Reason.INVALID_HOST, server, host, port));
    }

    private static CompletableFuture<StreamVerdict> done(StreamVerdict verdict) {
        return CompletableFuture.completedFuture(verdict);
    }
}
