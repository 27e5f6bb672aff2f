package io.egressd.proxy;

import io.egressd.policy.ConnectionCount;

import io.egressd.policy.EgressListener;
import io.egressd.policy.Front;
import io.egressd.policy.LearnedAddresses;
import io.egressd.policy.Policy;
import io.netty.channel.Channel;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * A running SOCKS5 egress listener (design.md sections 5 and 6): CONNECT only, no
 * authentication (identity by listener or source address) or username/password (identity by
 * {@code proxy_user} and token), every request decided by the same policy as the HTTP proxy.
 *
 * <pre>{@code
 * SocksProxy socks = SocksProxy.start(ProxySettings.defaults(new InetSocketAddress("127.0.0.1", 1080)),
 *         policies::current, auditAndMetrics, AsyncNameResolver.system(Duration.ofSeconds(5)), learned);
 * }</pre>
 */
public final class SocksProxy implements AutoCloseable {

    private final StreamServer server;
    private final Channel listener;
    private final ConnectionCount connections;

    private SocksProxy(StreamServer server, Channel listener, ConnectionCount connections) {
        this.server = server;
        this.listener = listener;
        this.connections = connections;
    }

    /**
     * Binds and starts accepting.
     *
     * @param settings where to listen, the sidecar server, timeouts, the connection limits (global, per
     *                 source, per server) and request rate as for the HTTP proxy, and threads
     *                 ({@code upstreamThreads} is not used: an upstream shares its client's thread)
     * @param policy   the current policy, read once per request
     * @param listener told about every decision and every allowed connection's close (protocol socks5)
     * @param resolver resolves names the policy needs addresses for
     * @param learned  the addresses egressd's DNS gave each server, so that an IP-address request is
     *                 decided as the allowed name it came from; null to allow IP addresses by cidr rules only
     * @throws UncheckedIOException when the address cannot be bound
     */
    public static SocksProxy start(ProxySettings settings, Supplier<Policy> policy, EgressListener listener,
                                   AsyncNameResolver resolver, LearnedAddresses learned) {
        return start(settings, policy, listener, resolver, learned, Route.DIRECT);
    }

    /** As above; tests route vetted addresses onto loopback and refuse every other. */
    static SocksProxy start(ProxySettings settings, Supplier<Policy> policy, EgressListener listener,
                            AsyncNameResolver resolver, LearnedAddresses learned, Route route) {
        Objects.requireNonNull(settings, "settings");
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(resolver, "resolver");
        ConnectionCount connections = new ConnectionCount(settings.maxConnections(),
                settings.maxConnectionsPerSource());
        StreamConfig config = new StreamConfig(policy, settings.boundServer(),
                new StreamDecider(resolver, settings.connectTimeout(), learned, route),
                new GuardedListener(listener), connections, settings.connectTimeout(), settings.idleTimeout(),
                ServerLimits.of(settings));
        StreamServer server = new StreamServer("egressd-socks", settings);
        try {
            IdleCloser idle = new IdleCloser(Front.SOCKS5, config.listener());
            Channel bound = server.bind(settings.listen(), true, idle, ch -> {
                Counted counted = new Counted(config, Front.SOCKS5);
                ch.pipeline().addLast("count", counted);
                ch.pipeline().addLast(SocksHandshake.ENCODER, Socks5ServerEncoder.DEFAULT);
                ch.pipeline().addLast(SocksHandshake.DECODER, new Socks5InitialRequestDecoder());
                ch.pipeline().addLast("front", new SocksHandshake(config, counted));
            });
            return new SocksProxy(server, bound, connections);
        } catch (RuntimeException e) {
            server.close();
            throw e;
        }
    }

    /** The address the listener is bound to, with the actual port when port 0 was asked for. */
    public InetSocketAddress boundAddress() {
        return (InetSocketAddress) listener.localAddress();
    }

    /** Client connections open now. */
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
