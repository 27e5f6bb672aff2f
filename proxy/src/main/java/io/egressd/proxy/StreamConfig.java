package io.egressd.proxy;

import io.egressd.policy.ConnectionCount;

import io.egressd.policy.Policy;
import java.time.Duration;
import java.util.function.Supplier;

/**
 * What every connection of a stream front (SOCKS5 or forwards) shares: immutable, or safe to
 * use from any I/O thread.
 *
 * @param boundServer    the server every client of the SOCKS5 listener is (sidecar), or null
 * @param connectTimeout for resolving a name plus opening the upstream connection
 * @param connections    max_connections and max_connections_per_source of this front, admitted at accept
 * @param serverLimits   max_connections_per_server and the request rate, taken once the server is known
 */
record StreamConfig(Supplier<Policy> policies, String boundServer, StreamDecider decider, GuardedListener listener,
                    ConnectionCount connections, Duration connectTimeout, Duration idleTimeout,
                    ServerLimits serverLimits) {
}
