package io.egressd.proxy;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Objects;

/**
 * How the proxy listens and the limits it enforces.
 *
 * @param listen          address to listen on; port 0 picks a free port
 * @param boundServer     the one server every client of this listener is (sidecar), or null
 * @param connectTimeout  HTTP proxy: limit for resolving a name (502 past it) and, separately, for opening the
 *                        upstream connection (504); SOCKS5 and forwards: one budget for both (see StreamConfig)
 * @param idleTimeout     a connection with no traffic either way for this long is closed; at least 1s
 * @param maxConnections  client connections the front holds at once; one more is closed at accept, unread
 * @param acceptorThreads threads accepting client connections
 * @param clientThreads   I/O threads for client connections
 * @param upstreamThreads LittleProxy's upstream pool: LittleProxy builds it (a selector per thread), but the
 *                        HTTP proxy registers each upstream channel on its client's loop ({@link CallerLoopGroup}),
 *                        so one thread, never started, is enough
 * @param headerTimeout   the HTTP proxy closes a connection that has not sent a complete request head this long
 *                        after it opened, or after the first byte of a later request
 * @param maxConnectionsPerSource client connections the front holds at once from one source address; one
 *                        more is closed at accept, before anything is read, as is one beyond {@code maxConnections}
 * @param maxConnectionsPerServer connections one server holds at once on the front (counted from its first
 *                        request); a request on one more is refused {@code limit_exceeded} (HTTP 429,
 *                        SOCKS5 0x02, a forward reset)
 * @param requestsPerSecondPerServer requests (HTTP requests, SOCKS5 CONNECTs, forward connections) one server
 *                        may make per second on the front (bursts of twice that); beyond it refused
 *                        {@code limit_exceeded}; 0 turns the rate limit off
 */
public record ProxySettings(InetSocketAddress listen, String boundServer, Duration connectTimeout,
                            Duration idleTimeout, int maxConnections, int acceptorThreads, int clientThreads,
                            int upstreamThreads, Duration headerTimeout, int maxConnectionsPerSource,
                            int maxConnectionsPerServer, int requestsPerSecondPerServer) {

    public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(10);
    public static final int DEFAULT_MAX_CONNECTIONS_PER_SOURCE = 256;
    public static final int DEFAULT_MAX_CONNECTIONS_PER_SERVER = 1024;
    /** Off: a default rate would throttle legitimate bulk use; connections are capped by default instead. */
    public static final int DEFAULT_REQUESTS_PER_SECOND_PER_SERVER = 0;

    /** The limits before header timeout and per-source cap, which take their defaults. */
    public ProxySettings(InetSocketAddress listen, String boundServer, Duration connectTimeout, Duration idleTimeout,
                         int maxConnections, int acceptorThreads, int clientThreads, int upstreamThreads) {
        this(listen, boundServer, connectTimeout, idleTimeout, maxConnections, acceptorThreads, clientThreads,
                upstreamThreads, DEFAULT_HEADER_TIMEOUT, DEFAULT_MAX_CONNECTIONS_PER_SOURCE,
                DEFAULT_MAX_CONNECTIONS_PER_SERVER, DEFAULT_REQUESTS_PER_SECOND_PER_SERVER);
    }

    public ProxySettings {
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(connectTimeout, "connectTimeout");
        Objects.requireNonNull(idleTimeout, "idleTimeout");
        Objects.requireNonNull(headerTimeout, "headerTimeout");
        if (headerTimeout.isNegative() || headerTimeout.isZero()) {
            throw new IllegalArgumentException("headerTimeout must be positive");
        }
        if (maxConnectionsPerSource < 1 || maxConnectionsPerServer < 1 || requestsPerSecondPerServer < 0) {
            throw new IllegalArgumentException("per-source and per-server connection limits must be at least 1,"
                    + " the request rate 0 (off) or more");
        }
        if (connectTimeout.isNegative() || connectTimeout.isZero()) {
            throw new IllegalArgumentException("connectTimeout must be positive");
        }
        // LittleProxy counts idle time in whole seconds, and 0 would switch it off.
        if (idleTimeout.compareTo(Duration.ofSeconds(1)) < 0) {
            throw new IllegalArgumentException("idleTimeout must be at least 1s");
        }
        if (maxConnections < 1 || acceptorThreads < 1 || clientThreads < 1 || upstreamThreads < 1) {
            throw new IllegalArgumentException("maxConnections and thread counts must be at least 1");
        }
    }

    /**
     * design.md section 9's defaults: 10s connect, 300s idle, 10000 connections; one acceptor
     * and one client I/O thread per core (at least two), measured in docs/benchmarks.md; one
     * upstream thread, never used (see {@code upstreamThreads}).
     */
    public static ProxySettings defaults(InetSocketAddress listen) {
        int cpus = Math.max(2, Runtime.getRuntime().availableProcessors());
        return new ProxySettings(listen, null, Duration.ofSeconds(10), Duration.ofSeconds(300), 10_000, 1, cpus, 1);
    }

    public ProxySettings withBoundServer(String server) {
        return new ProxySettings(listen, server, connectTimeout, idleTimeout, maxConnections, acceptorThreads,
                clientThreads, upstreamThreads, headerTimeout, maxConnectionsPerSource,
                maxConnectionsPerServer, requestsPerSecondPerServer);
    }

    public ProxySettings withConnectTimeout(Duration timeout) {
        return new ProxySettings(listen, boundServer, timeout, idleTimeout, maxConnections, acceptorThreads,
                clientThreads, upstreamThreads, headerTimeout, maxConnectionsPerSource,
                maxConnectionsPerServer, requestsPerSecondPerServer);
    }

    public ProxySettings withIdleTimeout(Duration timeout) {
        return new ProxySettings(listen, boundServer, connectTimeout, timeout, maxConnections, acceptorThreads,
                clientThreads, upstreamThreads, headerTimeout, maxConnectionsPerSource,
                maxConnectionsPerServer, requestsPerSecondPerServer);
    }

    public ProxySettings withMaxConnections(int max) {
        return new ProxySettings(listen, boundServer, connectTimeout, idleTimeout, max, acceptorThreads,
                clientThreads, upstreamThreads, headerTimeout, maxConnectionsPerSource,
                maxConnectionsPerServer, requestsPerSecondPerServer);
    }

    public ProxySettings withThreads(int acceptor, int client, int upstream) {
        return new ProxySettings(listen, boundServer, connectTimeout, idleTimeout, maxConnections, acceptor, client,
                upstream, headerTimeout, maxConnectionsPerSource,
                maxConnectionsPerServer, requestsPerSecondPerServer);
    }

    public ProxySettings withHeaderTimeout(Duration timeout) {
        return new ProxySettings(listen, boundServer, connectTimeout, idleTimeout, maxConnections, acceptorThreads,
                clientThreads, upstreamThreads, timeout, maxConnectionsPerSource,
                maxConnectionsPerServer, requestsPerSecondPerServer);
    }

    public ProxySettings withMaxConnectionsPerSource(int max) {
        return new ProxySettings(listen, boundServer, connectTimeout, idleTimeout, maxConnections, acceptorThreads,
                clientThreads, upstreamThreads, headerTimeout, max,
                maxConnectionsPerServer, requestsPerSecondPerServer);
    }

    public ProxySettings withServerLimits(int maxConnections, int requestsPerSecond) {
        return new ProxySettings(listen, boundServer, connectTimeout, idleTimeout, this.maxConnections,
                acceptorThreads, clientThreads, upstreamThreads, headerTimeout, maxConnectionsPerSource,
                maxConnections, requestsPerSecond);
    }
}
