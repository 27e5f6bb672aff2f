package io.egressd.proxy;

import io.egressd.policy.ConnectionCount;

import io.egressd.policy.EgressListener;
import io.egressd.policy.Policy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.littleshoot.proxy.HttpProxyServer;
import org.littleshoot.proxy.impl.DefaultHttpProxyServer;

/**
 * A running HTTP + CONNECT egress proxy (design.md sections 5 and 6).
 *
 * <pre>{@code
 * EgressProxy proxy = EgressProxy.start(ProxySettings.defaults(new InetSocketAddress("127.0.0.1", 3128)),
 *         policies::current, auditAndMetrics, AsyncNameResolver.system(Duration.ofSeconds(5)));
 * System.out.println("http proxy listening on " + proxy.boundAddress());
 * }</pre>
 */
public final class EgressProxy implements AutoCloseable {

    private final HttpProxyServer server;
    private final ConnectionCount connections;

    private final GatedServerGroup threads;

    private EgressProxy(HttpProxyServer server, ConnectionCount connections, GatedServerGroup threads) {
        this.server = server;
        this.connections = connections;
        this.threads = threads;
    }

    /**
     * Binds and starts accepting; returns once connections are accepted.
     *
     * @param settings where to listen and the limits
     * @param policy   the current policy, read once per request, so a reload applies to the next request
     * @param listener told about every decision and every allowed connection's close; called on I/O threads
     * @param resolver resolves names the policy needs addresses for
     * @throws UncheckedIOException when the address cannot be bound
     */
    public static EgressProxy start(ProxySettings settings, Supplier<Policy> policy, EgressListener listener,
                                    AsyncNameResolver resolver) {
        return start(settings, policy, listener, resolver, address -> true);
    }

    /** As above; tests add a last check on every address before it is dialed. */
    static EgressProxy start(ProxySettings settings, Supplier<Policy> policy, EgressListener listener,
                             AsyncNameResolver resolver, Predicate<InetAddress> dialable) {
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(resolver, "resolver");
        ConnectionCount connections = new ConnectionCount(settings.maxConnections(), settings.maxConnectionsPerSource());
        RequestDecider decider = new RequestDecider(policy, settings.boundServer(), resolver,
                settings.connectTimeout(), dialable);
        GateConfig config = new GateConfig(decider, new GuardedListener(listener), settings.connectTimeout(),
                connections, settings.headerTimeout(),
                ServerLimits.of(settings), Upstream::connect);
        GatedServerGroup threads = new GatedServerGroup("egressd-http", settings, () -> new EgressGate(config));
        try {
            HttpProxyServer server = DefaultHttpProxyServer.bootstrap()
                    .withName("egressd-http")
                    .withServerGroup(threads)
                    .withAddress(settings.listen())
                    .withFiltersSource(new PinnedFiltersSource())
                    .withServerResolver(new NoLookupResolver())
                    .withConnectTimeout(backstopConnectTimeoutMillis(settings.connectTimeout()))
                    .withIdleConnectionTimeout(roundUpToSeconds(settings.idleTimeout()))
                    .withAllowRequestToOriginServer(false)
                    .withTransparent(false)
                    .withProxyAlias("egressd")
                    .start();
            return new EgressProxy(server, connections, threads);
        } catch (RuntimeException e) {
            if (e.getCause() instanceof IOException io) {
                throw new UncheckedIOException("cannot listen on " + settings.listen() + ": " + io.getMessage(), io);
            }
            throw e;
        }
    }

    /** The address the proxy listens on, with the actual port when port 0 was asked for. */
    public InetSocketAddress boundAddress() {
        return server.getListenAddress();
    }

    /** Client connections open now. */
    public int openConnections() {
        return connections.open();
    }

    /** Stops listening (new connections are refused); open connections carry on until {@link #close}. */
    public void stopAccepting() {
        threads.stopAccepting();
    }

    /** Stops listening, closes every connection and waits (briefly) for the I/O threads to end. */
    @Override
    public void close() {
        server.stop();
    }

    /**
     * The gate answers 504 at the configured timeout; LittleProxy's own timeout (which can
     * only answer 502) is kept well behind it.
     */
    private static int backstopConnectTimeoutMillis(Duration connectTimeout) {
        long ms = connectTimeout.toMillis();
        return (int) Math.min(Integer.MAX_VALUE, Math.max(ms * 2, ms + 1000));
    }

    private static Duration roundUpToSeconds(Duration d) {
        long seconds = d.getSeconds() + (d.getNano() > 0 ? 1 : 0);
        return Duration.ofSeconds(seconds);
    }
}
