package io.egressd.dns;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How a {@link DnsFilter} listens and forwards.
 *
 * @param listen          UDP and TCP address to serve on (the same port for both; port 0 picks a free one)
 * @param boundServer     the server every client of this listener is (sidecar {@code server:}), or null to
 *                        identify clients by source address
 * @param upstreams       resolvers to forward allowed queries to, tried in order with failover; not empty
 * @param upstreamTimeout how long a client waits for an upstream answer before it gets SERVFAIL, across all
 *                        upstreams
 * @param denyRcode       the answer to a name outside the allowlist
 * @param cacheMaxEntries how many answers (by name, type and class) the cache keeps; 0 disables it
 * @param cacheMaxBytes   the most (estimated) bytes of answers the cache keeps; an answer over
 *                        {@link #MAX_CACHED_ANSWER_BYTES} is never cached
 * @param tcpMaxConnections          TCP connections held at once; one more is closed at accept, unread
 * @param tcpMaxConnectionsPerSource TCP connections from one source address held at once; more are closed at accept
 * @param tcpFrameTimeout a TCP connection holding part of a query frame this long after its last complete
 *                        frame (or its start) is closed, however slowly the rest trickles in
 * @param udpQueriesPerSecondPerSource UDP queries one source address may send per second; more are dropped
 *                        unanswered; 0 turns the limit off
 * @param udpQueryBurstPerSource       UDP queries one source may send at once above that rate (its bucket)
 */
public record DnsSettings(InetSocketAddress listen, String boundServer, List<InetSocketAddress> upstreams,
                          Duration upstreamTimeout, DenyRcode denyRcode, int cacheMaxEntries, long cacheMaxBytes,
                          int tcpMaxConnections, int tcpMaxConnectionsPerSource, Duration tcpFrameTimeout,
                          int udpQueriesPerSecondPerSource, int udpQueryBurstPerSource) {

    public static final Duration DEFAULT_UPSTREAM_TIMEOUT = Duration.ofSeconds(3);
    public static final DenyRcode DEFAULT_DENY_RCODE = DenyRcode.NXDOMAIN;
    public static final int DEFAULT_CACHE_MAX_ENTRIES = 10_000;
    public static final long DEFAULT_CACHE_MAX_BYTES = 32L << 20;
    /** Answers estimated larger than this are served but not cached (big TXT sets would crowd out the rest). */
    public static final int MAX_CACHED_ANSWER_BYTES = 16 << 10;
    public static final int DEFAULT_TCP_MAX_CONNECTIONS = 1024;
    public static final int DEFAULT_TCP_MAX_CONNECTIONS_PER_SOURCE = 64;
    public static final Duration DEFAULT_TCP_FRAME_TIMEOUT = Duration.ofSeconds(5);
    /**
     * Far above what a host's resolver sends (a lookup is a few queries, search domains included),
     * far below what one flooding source can send; docs/config.md says why.
     */
    public static final int DEFAULT_UDP_QUERIES_PER_SECOND_PER_SOURCE = 1000;
    public static final int DEFAULT_UDP_QUERY_BURST_PER_SOURCE = 2000;
    /** The {@code dns.upstreams} entry that means "the nameservers of /etc/resolv.conf". */
    public static final String SYSTEM = "system";

    private static final Path RESOLV_CONF = Path.of("/etc/resolv.conf");

    /** The settings before the byte and TCP limits, which take their defaults. */
    public DnsSettings(InetSocketAddress listen, String boundServer, List<InetSocketAddress> upstreams,
                       Duration upstreamTimeout, DenyRcode denyRcode, int cacheMaxEntries) {
        this(listen, boundServer, upstreams, upstreamTimeout, denyRcode, cacheMaxEntries, DEFAULT_CACHE_MAX_BYTES,
                DEFAULT_TCP_MAX_CONNECTIONS, DEFAULT_TCP_MAX_CONNECTIONS_PER_SOURCE, DEFAULT_TCP_FRAME_TIMEOUT,
                DEFAULT_UDP_QUERIES_PER_SECOND_PER_SOURCE, DEFAULT_UDP_QUERY_BURST_PER_SOURCE);
    }

    public DnsSettings {
        Objects.requireNonNull(listen, "listen");
        Objects.requireNonNull(tcpFrameTimeout, "tcpFrameTimeout");
        if (tcpFrameTimeout.isNegative() || tcpFrameTimeout.isZero()) {
            throw new IllegalArgumentException("TCP frame timeout must be positive");
        }
        if (cacheMaxBytes < 0) {
            throw new IllegalArgumentException("cache bytes must not be negative");
        }
        if (tcpMaxConnections < 1 || tcpMaxConnectionsPerSource < 1) {
            throw new IllegalArgumentException("TCP connection limits must be at least 1");
        }
        if (udpQueriesPerSecondPerSource < 0 || udpQueryBurstPerSource < 1) {
            throw new IllegalArgumentException("the UDP query rate must be 0 (off) or more, its burst at least 1");
        }
        Objects.requireNonNull(upstreamTimeout, "upstreamTimeout");
        Objects.requireNonNull(denyRcode, "denyRcode");
        upstreams = List.copyOf(upstreams);
        if (upstreams.isEmpty()) {
            throw new IllegalArgumentException("dns needs at least one upstream");
        }
        for (InetSocketAddress upstream : upstreams) {
            if (upstream.isUnresolved()) {
                throw new IllegalArgumentException("upstream " + upstream + " is not an IP address");
            }
        }
        if (upstreamTimeout.isNegative() || upstreamTimeout.isZero()) {
            throw new IllegalArgumentException("upstream timeout must be positive");
        }
        if (cacheMaxEntries < 0) {
            throw new IllegalArgumentException("cache size must not be negative");
        }
    }

    /** Settings with the defaults for everything but where to listen and where to forward. */
    public static DnsSettings of(InetSocketAddress listen, List<InetSocketAddress> upstreams) {
        return new DnsSettings(listen, null, upstreams, DEFAULT_UPSTREAM_TIMEOUT, DEFAULT_DENY_RCODE,
                DEFAULT_CACHE_MAX_ENTRIES);
    }

    public DnsSettings withTcpLimits(int maxConnections, int maxConnectionsPerSource, Duration frameTimeout) {
        return new DnsSettings(listen, boundServer, upstreams, upstreamTimeout, denyRcode, cacheMaxEntries,
                cacheMaxBytes, maxConnections, maxConnectionsPerSource, frameTimeout, udpQueriesPerSecondPerSource,
                udpQueryBurstPerSource);
    }

    public DnsSettings withCacheMaxBytes(long maxBytes) {
        return new DnsSettings(listen, boundServer, upstreams, upstreamTimeout, denyRcode, cacheMaxEntries,
                maxBytes, tcpMaxConnections, tcpMaxConnectionsPerSource, tcpFrameTimeout, udpQueriesPerSecondPerSource,
                udpQueryBurstPerSource);
    }

    /** @param perSecond UDP queries per source per second, 0 for no limit; {@code burst} at least 1 */
    public DnsSettings withUdpRateLimit(int perSecond, int burst) {
        return new DnsSettings(listen, boundServer, upstreams, upstreamTimeout, denyRcode, cacheMaxEntries,
                cacheMaxBytes, tcpMaxConnections, tcpMaxConnectionsPerSource, tcpFrameTimeout, perSecond, burst);
    }

    /**
     * Reads {@code dns.upstreams}: {@code system} (the nameservers of /etc/resolv.conf) or IP
     * addresses with an optional port, {@code 10.0.0.2}, {@code 10.0.0.2:53}, {@code [2001:db8::1]:53}.
     *
     * @throws IllegalArgumentException naming the entry that is wrong
     */
    public static List<InetSocketAddress> parseUpstreams(List<String> specs) {
        return parseUpstreams(specs, RESOLV_CONF);
    }

    static List<InetSocketAddress> parseUpstreams(List<String> specs, Path resolvConf) {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String spec : specs) {
            if (SYSTEM.equals(spec)) {
                try {
                    out.addAll(ResolvConf.nameservers(resolvConf));
                } catch (IOException e) {
                    throw new IllegalArgumentException("cannot read " + resolvConf + " for upstreams: system: "
                            + e.getMessage(), e);
                }
            } else {
                out.add(Endpoints.parse(spec, 53));
            }
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no upstream resolvers configured");
        }
        return List.copyOf(out);
    }
}
