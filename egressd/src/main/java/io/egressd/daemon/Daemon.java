package io.egressd.daemon;

import io.egressd.admin.AdminServer;
import io.egressd.admin.ReadinessFlags;
import io.egressd.audit.AuditFormat;
import io.egressd.audit.AuditHealth;
import io.egressd.audit.AuditOutput;
import io.egressd.audit.AuditRotation;
import io.egressd.audit.Auditor;
import io.egressd.audit.LogbackAuditSink;
import io.egressd.config.Config;
import io.egressd.config.ConfigLoader;
import io.egressd.dns.DenyRcode;
import io.egressd.dns.DnsFilter;
import io.egressd.dns.DnsSettings;
import io.egressd.metrics.CountingAuditSink;
import io.egressd.metrics.EgressMetrics;
import io.egressd.metrics.EgressObservers;
import io.egressd.metrics.PrometheusMetrics;
import io.egressd.policy.Forward;
import io.egressd.policy.LearnedAddresses;
import io.egressd.policy.Policy;
import io.egressd.policy.PolicyException;
import io.egressd.policy.ServerPolicy;
import io.egressd.proxy.AsyncNameResolver;
import io.egressd.proxy.EgressProxy;
import io.egressd.proxy.ProxySettings;
import io.egressd.proxy.SocksProxy;
import io.egressd.proxy.TcpForwards;
import io.egressd.reload.PolicyReloader;
import io.egressd.reload.ReloadSettings;
import io.egressd.reload.SighupTrigger;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.stream.Stream;

/**
 * A running egressd, wired in dependency order: metrics and the admin listener first (so
 * /healthz answers during start-up), then the audit sink, the policy, and the fronts last.
 * Closing runs the same order backwards, so the fronts stop before the audit sink drains.
 * Starting is all-or-nothing: whatever was started is closed again if a later step fails.
 */
public final class Daemon implements AutoCloseable {

    private final Deque<AutoCloseable> started;
    private final PolicyReloader policy;
    private final AdminServer admin;
    private final EgressProxy proxy;
    private final SocksProxy socks;
    private final TcpForwards forwards;
    private final DnsFilter dns;
    private final ReadinessFlags readiness;
    private final EgressMetrics metrics;

    private Daemon(Deque<AutoCloseable> started, PolicyReloader policy, AdminServer admin, EgressProxy proxy,
                   SocksProxy socks, TcpForwards forwards, DnsFilter dns, ReadinessFlags readiness,
                   EgressMetrics metrics) {
        this.started = started;
        this.policy = policy;
        this.admin = admin;
        this.proxy = proxy;
        this.socks = socks;
        this.forwards = forwards;
        this.dns = dns;
        this.readiness = readiness;
        this.metrics = metrics;
    }

    /**
     * Loads the policy and binds every configured listener.
     *
     * @throws PolicyException when the allowlists do not validate (nothing is left listening)
     * @throws UncheckedIOException when a listener cannot bind
     * @throws IllegalArgumentException when the config names a server with no allowlist
     */
    public static Daemon start(Config config) throws PolicyException {
        return start(config, System.err);
    }

    /** As above; {@code err} is where the daemon tells its operator about faults (the audit output failing). */
    public static Daemon start(Config config, PrintStream err) throws PolicyException {
        Deque<AutoCloseable> started = new ArrayDeque<>();
        try {
            return start(config, err, started);
        } catch (PolicyException | RuntimeException | Error e) {
            closeAll(started);
            throw e;
        } catch (IOException e) {
            closeAll(started);
            throw new UncheckedIOException(e);
        }
    }

    private static Daemon start(Config config, PrintStream err, Deque<AutoCloseable> started)
            throws PolicyException, IOException {
        requireServerAllowlist(config);
        PrometheusMetrics prometheus = push(started, new PrometheusMetrics());
        EgressMetrics metrics = new EgressMetrics(prometheus.registry(), Clock.systemUTC());
        List<String> conditions = new ArrayList<>(List.of("policy"));
        if (config.listen().http() != null) {
            conditions.add("http");
        }
        if (config.listen().socks() != null) {
            conditions.add("socks");
        }
        if (config.listen().dns() != null) {
            conditions.add("dns");
        }
        ReadinessFlags readiness = new ReadinessFlags(conditions.toArray(String[]::new));
        metrics.bindReadiness(readiness::ready);
        AdminServer admin = config.listen().admin() == null ? null
                : push(started, AdminServer.start(config.listen().admin(), prometheus::scrape, readiness));

        AuditHealth auditHealth = new AuditHealth(config.audit().refuseOnFailure(), err);
        metrics.bindAuditHealth(auditHealth);
        LogbackAuditSink sink = push(started, LogbackAuditSink.open(
                AuditOutput.of(config.audit().output(), AuditRotation.DEFAULT), LogbackAuditSink.DEFAULT_QUEUE_SIZE,
                auditHealth));
        EgressObservers observers = new EgressObservers(
                new Auditor(new CountingAuditSink(sink, metrics), new AuditFormat(Clock.systemUTC()),
                        config.audit().allowed(), config.audit().dnsAllowed()), metrics);

        PolicyReloader policy = push(started,
                PolicyReloader.load(config.allowlists(), config.deny(), observers, ReloadSettings.DEFAULT));
        Policy initial = policy.get();
        if (config.server() != null && initial.server(config.server()) == null) {
            throw noAllowlist(config, initial.servers().keySet());
        }
        readiness.met("policy");
        policy.start();
        SighupTrigger.install(policy);
        // What the fronts decide with: the policy, or a refusal of everything while the audit fails.
        AuditGate gated = new AuditGate(policy, auditHealth);

        AsyncNameResolver resolver = AsyncNameResolver.system(config.limits().connectTimeout());
        // What the DNS filter answers each server, for SOCKS5 clients that resolve before they connect.
        LearnedAddresses learned = config.listen().socks() != null && config.listen().dns() != null
                ? LearnedAddresses.create() : null;
        EgressProxy proxy = null;
        if (config.listen().http() != null) {
            proxy = push(started, EgressProxy.start(settings(config, config.listen().http()), gated, observers,
                    resolver));
            readiness.met("http");
        }
        SocksProxy socks = null;
        if (config.listen().socks() != null) {
            socks = push(started, SocksProxy.start(settings(config, config.listen().socks()), gated, observers,
                    resolver, learned));
            readiness.met("socks");
        }
        TcpForwards forwards = null;
        List<Forward> declared = forwards(config, initial);
        if (!declared.isEmpty()) {
            forwards = push(started, TcpForwards.start(declared, settings(config, declared.get(0).listen()), gated,
                    observers, resolver));
        }
        DnsFilter dns = null;
        if (config.listen().dns() != null) {
            DnsSettings settings = new DnsSettings(config.listen().dns(), config.server(),
                    DnsSettings.parseUpstreams(config.dns().upstreams()), config.dns().timeout(),
                    DenyRcode.parse(config.dns().denyRcode()), DnsSettings.DEFAULT_CACHE_MAX_ENTRIES)
                    .withTcpLimits(config.dns().tcpMaxConnections(), config.dns().tcpMaxConnectionsPerSource(),
                            config.dns().tcpFrameTimeout())
                    .withUdpRateLimit(config.dns().udpQueriesPerSecondPerSource(),
                            config.dns().udpQueryBurstPerSource());
            dns = push(started, DnsFilter.start(settings, gated, observers, learned));
            readiness.met("dns");
        }
        return new Daemon(started, policy, admin, proxy, socks, forwards, dns, readiness, metrics);
    }

    /**
     * Before anything binds: a sidecar's {@code server:} (or {@code --server}) names a server with an
     * allowlist file. Its file is {@code <server>.yaml} (the loader insists), so the directory tells. A
     * directory that is not there is left to the policy load, which reports it with its path.
     */
    static void requireServerAllowlist(Config config) throws IOException {
        String server = config.server();
        if (server == null) {
            return;
        }
        if (!ConfigLoader.isServerName(server)) {
            throw new IllegalArgumentException("server " + server + ": not a server name (an allowlist file name"
                    + " without .yaml: lower-case letters, digits, - and _)");
        }
        Path dir = config.allowlists();
        if (!Files.isDirectory(dir) || Files.isRegularFile(dir.resolve(server + ".yaml"))) {
            return;
        }
        List<String> servers = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".yaml"))
                    .map(n -> n.substring(0, n.length() - ".yaml".length())).filter(ConfigLoader::isServerName)
                    .sorted().forEach(servers::add);
        } catch (IOException e) {
            // An unlistable directory: the policy load names it, with what to do.
            return;
        }
        throw noAllowlist(config, servers);
    }

    private static IllegalArgumentException noAllowlist(Config config, Iterable<String> servers) {
        return new IllegalArgumentException("server " + config.server() + ": no allowlist "
                + config.allowlists().resolve(config.server() + ".yaml") + "; servers: " + String.join(", ", servers));
    }

    /** The limits of egressd.yaml for a front listening on {@code listen}. */
    private static ProxySettings settings(Config config, InetSocketAddress listen) {
        return ProxySettings.defaults(listen)
                .withBoundServer(config.server())
                .withConnectTimeout(config.limits().connectTimeout())
                .withIdleTimeout(config.limits().idleTimeout())
                .withMaxConnections(config.limits().maxConnections())
                .withHeaderTimeout(config.limits().headerTimeout())
                .withMaxConnectionsPerSource(config.limits().maxConnectionsPerSource())
                .withServerLimits(config.limits().maxConnectionsPerServer(),
                        config.limits().requestsPerSecondPerServer());
    }

    /** The forwards to listen for: every server's, or in a sidecar only its server's. */
    private static List<Forward> forwards(Config config, Policy policy) {
        if (config.server() == null) {
            return policy.forwards();
        }
        ServerPolicy server = policy.server(config.server());
        return server == null ? List.of() : server.forwards();
    }

    private static <T extends AutoCloseable> T push(Deque<AutoCloseable> started, T closeable) {
        started.push(closeable);
        return closeable;
    }

    private static void closeAll(Deque<AutoCloseable> started) {
        while (!started.isEmpty()) {
            try {
                started.pop().close();
            } catch (Exception ignored) {
                // Keep closing the rest; the audit sink at the bottom must still drain.
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

    /** The admin listener's address, or null when it is off. */
    public InetSocketAddress adminAddress() {
        return admin == null ? null : admin.address();
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
        if (admin != null) {
            parts.add("admin on " + format(adminAddress()));
        }
        Policy p = policy.get();
        return "egressd: listening: " + String.join(", ", parts) + "; policy " + p.version() + " with "
                + p.servers().size() + (p.servers().size() == 1 ? " server" : " servers");
    }

    static String format(InetSocketAddress address) {
        String host = address.getAddress().getHostAddress();
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + address.getPort();
    }

    /** Allowed connections open now (tunnels, requests on their way), over every front. */
    public long openConnections() {
        return metrics.activeConnections();
    }

    /**
     * The graceful stop of SIGTERM: every listener is closed at once (new connections are
     * refused, /readyz answers 503), the allowed connections still open may finish for up to
     * {@code grace}, then whatever is left is closed as by {@link #close}, so that their
     * {@code egress.closed} lines, with the bytes they moved, are the last ones audited.
     *
     * @return how many connections were still open when the grace ran out (0 when all finished)
     */
    public synchronized long shutdown(Duration grace) {
        if (started.isEmpty()) {
            return 0;
        }
        if (proxy != null) {
            proxy.stopAccepting();
            readiness.unmet("http");
        }
        if (socks != null) {
            socks.stopAccepting();
            readiness.unmet("socks");
        }
        if (forwards != null) {
            forwards.stopAccepting();
        }
        if (dns != null) {
            dns.stopAccepting();
            readiness.unmet("dns");
        }
        long deadline = System.nanoTime() + grace.toNanos();
        while (openConnections() > 0 && deadline - System.nanoTime() > 0) {
            try {
                Thread.sleep(Math.min(50, Math.max(1, (deadline - System.nanoTime()) / 1_000_000)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        long cut = openConnections();
        close();
        return cut;
    }

    /** Stops the fronts, then the reloader and admin listener, and drains the audit sink last. */
    @Override
    public synchronized void close() {
        closeAll(started);
    }
}
