package io.egressd.daemon;

import io.egressd.config.Config;
import io.egressd.dns.DenyRcode;
import io.egressd.dns.DnsFilter;
import io.egressd.dns.DnsSettings;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Policy;
import io.egressd.proxy.AsyncNameResolver;
import io.egressd.proxy.EgressProxy;
import io.egressd.proxy.ProxySettings;
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
    private final DnsFilter dns;

    private Daemon(AtomicReference<Policy> policy, EgressProxy proxy, DnsFilter dns) {
        this.policy = policy;
        this.proxy = proxy;
        this.dns = dns;
    }

    /**
     * Binds every configured listener.
     *
     * @throws UncheckedIOException when a listener cannot bind
     */
    public static Daemon start(Config config, AtomicReference<Policy> policy, EgressListener listener) {
        EgressProxy proxy = null;
        DnsFilter dns = null;
        try {
            if (config.listen().http() != null) {
                ProxySettings settings = ProxySettings.defaults(config.listen().http())
                        .withBoundServer(config.server())
                        .withConnectTimeout(config.limits().connectTimeout())
                        .withIdleTimeout(config.limits().idleTimeout())
                        .withMaxConnections(config.limits().maxConnections());
                proxy = EgressProxy.start(settings, policy::get, listener,
                        AsyncNameResolver.system(config.limits().connectTimeout()));
            }
            if (config.listen().dns() != null) {
                DnsSettings settings = new DnsSettings(config.listen().dns(), config.server(),
                        DnsSettings.parseUpstreams(config.dns().upstreams()), config.dns().timeout(),
                        DenyRcode.parse(config.dns().denyRcode()), DnsSettings.DEFAULT_CACHE_MAX_ENTRIES);
                dns = DnsFilter.start(settings, policy::get, listener);
            }
            return new Daemon(policy, proxy, dns);
        } catch (IOException e) {
            closeQuietly(proxy, dns);
            throw new UncheckedIOException(e);
        } catch (RuntimeException | Error e) {
            // Whatever failed, no listener stays open behind a process that reports failure.
            closeQuietly(proxy, dns);
            throw e;
        }
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
        if (dns != null) {
            parts.add("dns on " + format(dnsAddress()) + " (udp+tcp)");
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
        closeQuietly(proxy, dns);
    }
}
