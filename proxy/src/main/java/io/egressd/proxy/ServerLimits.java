package io.egressd.proxy;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;

/**
 * Per-server limits of one front (the HTTP proxy, SOCKS5, or the forwards together):
 * connections attributed to a server (at its first identified request) and a token bucket of
 * requests per second. One server flooding uses up its own allowance only; other servers'
 * counters are untouched.
 */
final class ServerLimits {

    private final int maxConnections;
    private final double perSecond;
    private final double burst;
    private final LongSupplier nanoClock;
    private final ConcurrentHashMap<String, AtomicInteger> connections = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Bucket> buckets = new ConcurrentHashMap<>();

    /** @param requestsPerSecond 0: no rate limit */
    ServerLimits(int maxConnections, int requestsPerSecond, LongSupplier nanoClock) {
        this.maxConnections = maxConnections;
        this.perSecond = requestsPerSecond;
        this.burst = Math.max(1, requestsPerSecond) * 2.0;
        this.nanoClock = nanoClock;
    }

    /** The per-server limits of {@code settings}, on the system clock. */
    static ServerLimits of(ProxySettings settings) {
        return new ServerLimits(settings.maxConnectionsPerServer(), settings.requestsPerSecondPerServer(),
                System::nanoTime);
    }

    /** Attributes one more connection to {@code server}; false (and nothing counted) when it has its maximum. */
    boolean openConnection(String server) {
        AtomicInteger held = connections.computeIfAbsent(server, s -> new AtomicInteger());
        if (held.incrementAndGet() > maxConnections) {
            held.decrementAndGet();
            return false;
        }
        return true;
    }

    void closeConnection(String server) {
        AtomicInteger held = connections.get(server);
        if (held != null) {
            held.decrementAndGet();
        }
    }

    int connections(String server) {
        AtomicInteger held = connections.get(server);
        return held == null ? 0 : held.get();
    }

    /** Takes one request from {@code server}'s bucket; false when it is empty. Always true with no rate set. */
    boolean tryRequest(String server) {
        if (perSecond == 0) {
            return true;
        }
        return buckets.computeIfAbsent(server, s -> new Bucket(burst, nanoClock.getAsLong())).take();
    }

    /** A fresh place for one connection in these limits; it holds nothing until it admits a request. */
    Slot slot() {
        return new Slot();
    }

    /**
     * One client connection's place: attributed to a server at its first admitted request,
     * released once when the connection closes. Used on the connection's own event loop only.
     */
    final class Slot {
        private String attributed;

        private Slot() {
        }

        /**
         * Counts the connection against {@code server}'s connection cap (once) and takes one
         * request from its rate; false (and no new connection held) when either is used up.
         */
        boolean admit(String server) {
            if (attributed == null) {
                if (!openConnection(server)) {
                    return false;
                }
                attributed = server;
            }
            return tryRequest(server);
        }

        /** Gives back the connection's place, if it held one. */
        void release() {
            if (attributed != null) {
                closeConnection(attributed);
                attributed = null;
            }
        }
    }

    private final class Bucket {
        private double tokens;
        private long last;

        Bucket(double tokens, long now) {
            this.tokens = tokens;
            this.last = now;
        }

        synchronized boolean take() {
            long now = nanoClock.getAsLong();
            tokens = Math.min(burst, tokens + (now - last) / 1e9 * perSecond);
            last = now;
            if (tokens >= 1) {
                tokens -= 1;
                return true;
            }
            return false;
        }
    }
}
