package io.egressd.daemon;

import io.egressd.config.Config;
import io.egressd.dns.DenyRcode;
import io.egressd.dns.DnsFilter;
import io.egressd.dns.DnsSettings;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Forward;
import io.egressd.policy.LearnedAddresses;
import io.egressd.policy.Policy;
import io.egressd.policy.ServerPolicy;
import io.egressd.proxy.AsyncNameResolver;
import io.egressd.proxy.EgressProxy;
import io.egressd.proxy.ProxySettings;
import io.egressd.proxy.SocksProxy;
import io.egressd.proxy.TcpForwards;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A running egressd: the policy every front reads, and the fronts themselves. Starting is
 * all-or-nothing: if one listener cannot bind, the ones already bound are closed again.
 */
public final class Daemon implements AutoCloseable {

    // One reference read per request/query: a reload swaps it whole, and each decision
    // sees either the old policy or the new one, never a mix.
    private final AtomicReference<Policy> policy;
    private final EgressProxy proxy;
    private final SocksProxy socks;
    private final TcpForwards forwards;
    private final DnsFilter dns;

    private Daemon(AtomicReference<Policy> policy, EgressProxy proxy, SocksProxy socks, TcpForwards forwards,
                   DnsFilter dns) {
        this.policy = policy;
        this.proxy = proxy;
        this.socks = socks;
        this.forwards = forwards;
        this.dns = dns;
    }

    /**
     * Binds every configured listener.
     *
     * @throws UncheckedIOException when a listener cannot bind
     */
    public static Daemon start(Config config, AtomicReference<Policy> policy, EgressListener listener) {
        EgressProxy proxy = null;
        SocksProxy socks = null;
        TcpForwards forwards = null;
        DnsFilter dns = null;
        try {
            AsyncNameResolver resolver = AsyncNameResolver.system(config.limits().connectTimeout());
            // What the DNS filter answers each server, for SOCKS5 clients that resolve before they connect.
            LearnedAddresses learned = config.listen().socks() != null && config.listen().dns() != null
                    ? LearnedAddresses.create() : null;
            if (config.listen().http() != null) {
                proxy = EgressProxy.start(settings(config, config.listen().http()), policy::get, listener, resolver);
            }
            if (config.listen().socks() != null) {
                socks = SocksProxy.start(settings(config, config.listen().socks()), policy::get, listener, resolver,
                        learned);
            }
            List<Forward> declared = forwards(config, policy.get());
            if (!declared.isEmpty()) {
                forwards = TcpForwards.start(declared, settings(config, declared.get(0).listen()), policy::get,
                        listener, resolver);
            }
            if (config.listen().dns() != null) {
                DnsSettings settings = new DnsSettings(config.listen().dns(), config.server(),
                        DnsSettings.parseUpstreams(config.dns().upstreams()), config.dns().timeout(),
                        DenyRcode.parse(config.dns().denyRcode()), DnsSettings.DEFAULT_CACHE_MAX_ENTRIES);
                dns = DnsFilter.start(settings, policy::get, listener, learned);
            }
            return new Daemon(policy, proxy, socks, forwards, dns);
        } catch (IOException e) {
            closeQuietly(proxy, socks, forwards, dns);
            throw new UncheckedIOException(e);
        } catch (RuntimeException | Error e) {
            // Whatever failed, no listener stays open behind a process that reports failure.
            closeQuietly(proxy, socks, forwards, dns);
            throw e;
        }
    }

    /** The limits of egressd.yaml for a front listening on {@code listen}. */
    private static ProxySettings settings(Config config, InetSocketAddress listen) {
        return ProxySettings.defaults(listen)
                .withBoundServer(config.server())
                .withConnectTimeout(config.limits().connectTimeout())
                .withIdleTimeout(config.limits().idleTimeout())
                .withMaxConnections(config.limits().maxConnections());
    }

    /** The forwards to listen for: every server's, or in a sidecar only its server's. */
    private static List<Forward> forwards(Config config, Policy policy) {
        if (config.server() == null) {
            return policy.forwards();
        }
        ServerPolicy server = policy.server(config.server());
        return server == null ? List.of() : server.forwards();
    }

    private static void closeQuietly(AutoCloseable... closeables) {
        for (AutoCloseable c : closeables) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // Already failing; the original error is the one to report.
                }
            }
        }
    }

    public Policy policy() {
        return policy.get();
    }

    /** The proxy's address, or null when it is off. */
    public InetSocketAddress proxyAddress() {
        return proxy == null ? null : proxy.boundAddress();
    }

    /** The SOCKS5 listener's address, or null when it is off. */
    public InetSocketAddress socksAddress() {
        return socks == null ? null : socks.boundAddress();
    }

    /** Where the TCP forwards listen, in the policy's order; empty when there are none. */
    public List<InetSocketAddress> forwardAddresses() {
        return forwards == null ? List.of() : forwards.addresses();
    }

    /** The DNS listener's address (UDP and TCP), or null when it is off. */
    public InetSocketAddress dnsAddress() {
        return dns == null ? null : dns.udpAddress();
    }

    /** The line serve prints once every listener accepts connections. */
    public String readyLine() {
        List<String> parts = new ArrayList<>();
        if (proxy != null) {
            parts.add("proxy on " + format(proxyAddress()));
        }
        if (socks != null) {
            parts.add("socks on " + format(socksAddress()));
        }
        if (dns != null) {
            parts.add("dns on " + format(dnsAddress()) + " (udp+tcp)");
        }
        if (forwards != null) {
            List<String> listening = new ArrayList<>();
            forwardAddresses().forEach(a -> listening.add(format(a)));
            parts.add("forwards on " + String.join(" ", listening));
        }
        Policy p = policy.get();
        return "egressd: listening: " + String.join(", ", parts) + "; policy " + p.version() + " with "
                + p.servers().size() + (p.servers().size() == 1 ? " server" : " servers");
    }

    static String format(InetSocketAddress address) {
        String host = address.getAddress().getHostAddress();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + address.getPort();
    }

    @Override
    public void close() {
        closeQuietly(proxy, socks, forwards, dns);
    }
}
