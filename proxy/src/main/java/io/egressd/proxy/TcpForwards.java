package io.egressd.proxy;

import io.egressd.policy.ConnectionCount;

import io.egressd.policy.EgressListener;
import io.egressd.policy.Forward;
import io.egressd.policy.Front;
import io.egressd.policy.Policy;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Running TCP forwards (an allowlist's {@code forwards}): one listener per forward, each
 * belonging to its server. Every connection is decided like a CONNECT to the forward's target
 * and audited with protocol {@code tcp}; a refused one is reset.
 *
 * <pre>{@code
 * TcpForwards forwards = TcpForwards.start(policy.forwards(), limits, policies::current, auditAndMetrics,
 *         AsyncNameResolver.system(Duration.ofSeconds(5)));
 * }</pre>
 */
public final class TcpForwards implements AutoCloseable {

    private final StreamServer server;
    private final List<InetSocketAddress> addresses;
    private final ConnectionCount connections;

    private TcpForwards(StreamServer server, List<InetSocketAddress> addresses, ConnectionCount connections) {
        this.server = server;
        this.addresses = addresses;
        this.connections = connections;
    }

    /**
     * Binds every forward, or none: if one address cannot be bound, the others are closed again.
     *
     * @param forwards the forwards to listen for, as the policy loaded at start has them; each connection
     *                 is still decided by the current policy, and refused if it no longer declares the forward
     * @param limits   timeouts, the connection limits and request rate (for all forwards together, as for the
     *                 HTTP proxy) and threads; its
     *                 {@code listen} and {@code boundServer} are not used: each forward has its own
     * @throws UncheckedIOException when an address cannot be bound
     */
    public static TcpForwards start(List<Forward> forwards, ProxySettings limits, Supplier<Policy> policy,
                                    EgressListener listener, AsyncNameResolver resolver) {
        return start(forwards, limits, policy, listener, resolver, Route.DIRECT);
    }

    /** As above; tests route vetted addresses onto loopback and refuse every other. */
    static TcpForwards start(List<Forward> forwards, ProxySettings limits, Supplier<Policy> policy,
                             EgressListener listener, AsyncNameResolver resolver, Route route) {
        Objects.requireNonNull(limits, "limits");
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(resolver, "resolver");
        ConnectionCount connections = new ConnectionCount(limits.maxConnections(), limits.maxConnectionsPerSource());
        // Forwards decide by cidr rules for IP targets: the DNS-learned path is for SOCKS5 clients.
        StreamConfig config = new StreamConfig(policy, null,
                new StreamDecider(resolver, limits.connectTimeout(), null, route),
                new GuardedListener(listener), connections, limits.connectTimeout(), limits.idleTimeout(),
                ServerLimits.of(limits));
        IdleCloser idle = new IdleCloser(Front.FORWARD, config.listener());
        StreamServer server = new StreamServer("egressd-forward", limits);
        try {
            List<InetSocketAddress> bound = new ArrayList<>();
            for (Forward forward : forwards) {
                bound.add((InetSocketAddress) server.bind(forward.listen(), false, idle, ch -> {
                    Counted counted = new Counted(config, Front.FORWARD);
                    ch.pipeline().addLast("count", counted);
                    ch.pipeline().addLast("front", new ForwardConnection(config, forward, counted));
                }).localAddress());
            }
            return new TcpForwards(server, List.copyOf(bound), connections);
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /** Where each forward listens, in the order given to {@link #start}. */
    public List<InetSocketAddress> addresses() {
        return addresses;
    }

    /** Client connections open now, over all forwards. */
    public int openConnections() {
        return connections.open();
    }

    /** Stops listening (new connections are refused); open connections carry on until {@link #close}. */
    public void stopAccepting() {
        server.stopAccepting();
    }

    /** Stops listening and closes every connection. */
    @Override
    public void close() {
        server.close();
    }
}
