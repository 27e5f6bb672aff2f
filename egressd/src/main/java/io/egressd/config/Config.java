package io.egressd.config;

import io.egressd.policy.GlobalDeny;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * egressd.yaml (design.md section 9), with every default filled in. Immutable: a reload
 * builds a new one.
 *
 * @param source     the file it was read from, or null for the built-in defaults
 * @param allowlists the allowlist directory (relative paths in a file resolve against the file's directory)
 * @param server     sidecar mode: every client of this instance is this server; null in a gateway
 */
public record Config(Path source, Path allowlists, String server, Listen listen, Dns dns, Audit audit,
                     GlobalDeny deny, Limits limits) {

    /** Listener addresses; null where a listener is off. */
    public record Listen(InetSocketAddress http, InetSocketAddress socks, InetSocketAddress dns,
                         InetSocketAddress admin) { }

    /**
     * @param upstreams                  {@code system} or {@code host:port} entries, as written
     * @param tcpMaxConnections          DNS TCP connections held at once; more are closed at accept, unread
     * @param tcpMaxConnectionsPerSource DNS TCP connections from one source address held at once
     * @param tcpFrameTimeout            a DNS TCP connection holding part of a query this long is closed
     * @param udpQueriesPerSecondPerSource UDP queries one source address may send per second (more are
     *                                   dropped unanswered); 0 turns the limit off
     * @param udpQueryBurstPerSource     UDP queries one source may send at once above that rate
     */
    public record Dns(List<String> upstreams, String denyRcode, Duration timeout, int tcpMaxConnections,
                      int tcpMaxConnectionsPerSource, Duration tcpFrameTimeout,
                      int udpQueriesPerSecondPerSource, int udpQueryBurstPerSource) {
        public Dns {
            upstreams = List.copyOf(upstreams);
        }
    }

    /**
     * @param output          {@code stdout} or a file path
     * @param refuseOnFailure {@code audit.on_failure: refuse} (the default): while the output cannot be
     *                        written, new connections and queries are refused ({@code audit_unavailable});
     *                        false ({@code continue}): they are served and the failure only reported
     */
    public record Audit(String output, boolean allowed, boolean dnsAllowed,
                        boolean refuseOnFailure) {
        public Audit(String output, boolean allowed, boolean dnsAllowed) {
            this(output, allowed, dnsAllowed, true);
        }
    }

    /**
     * @param headerTimeout           HTTP: a connection without a complete request head this long after it
     *                                opened (or after the first byte of a later request) is closed
     * @param maxConnectionsPerSource HTTP: connections from one source address held at once; more are closed
     *                                at accept, unread, as are those beyond {@code maxConnections}
     * @param maxConnectionsPerServer HTTP: connections one server holds at once; beyond it 429 limit_exceeded
     * @param requestsPerSecondPerServer HTTP: requests one server may make per second (bursts of twice that);
     *                                beyond it 429 limit_exceeded; 0 (the default): no rate limit
     * @param shutdownGrace           after SIGTERM: how long open connections may take to finish before they are closed
     */
    public record Limits(Duration connectTimeout, Duration idleTimeout, int maxConnections, Duration headerTimeout,
                         int maxConnectionsPerSource, int maxConnectionsPerServer, int requestsPerSecondPerServer,
                         Duration shutdownGrace) { }

    public static final Listen DEFAULT_LISTEN = new Listen(
            new InetSocketAddress("127.0.0.1", 3128), null,
            new InetSocketAddress("127.0.0.1", 5053), new InetSocketAddress("127.0.0.1", 9464));

    /** The shipped defaults: loopback listeners, ./allowlists, deny what no allowlist allows. */
    public static Config defaults() {
        return new Config(null, Path.of("allowlists"), null, DEFAULT_LISTEN,
                new Dns(List.of("system"), "NXDOMAIN", Duration.ofSeconds(3), 1024, 64, Duration.ofSeconds(5),
                        1000, 2000),
                new Audit("stdout", true, false),
                GlobalDeny.BUILT_IN,
                new Limits(Duration.ofSeconds(10), Duration.ofSeconds(300), 10_000, Duration.ofSeconds(10), 256, 1024,
                        0,
                        Duration.ofSeconds(10)));
    }

    public Config withAllowlists(Path dir) {
        return new Config(source, dir, server, listen, dns, audit, deny, limits);
    }

    public Config withServer(String name) {
        return new Config(source, allowlists, name, listen, dns, audit, deny, limits);
    }
}
