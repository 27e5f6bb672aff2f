package io.egressd.policy;

import java.net.InetAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Client connections held now, against a global limit and, for fronts that admit at accept, a
 * per-source limit. Shared by the proxy's fronts and the DNS TCP listener; no I/O of its own.
 */
public final class ConnectionCount {

    private final int max;
    private final int maxPerSource;
    // Opened and closed on every client I/O thread; an atomic counter and a concurrent map are all they share.
    private final AtomicInteger open = new AtomicInteger();
    private final ConcurrentHashMap<InetAddress, Integer> bySource = new ConcurrentHashMap<>();

    public ConnectionCount(int max) {
        this(max, Integer.MAX_VALUE);
    }

    public ConnectionCount(int max, int maxPerSource) {
        this.max = max;
        this.maxPerSource = maxPerSource;
    }

    /**
     * Counts a new connection from {@code source} when it fits under both limits, returning null;
     * a connection that does not fit is not counted (its front closes it at once) and the result
     * says which limit refused: {@link Rejection#MAX_CONNECTIONS} or
     * {@link Rejection#MAX_CONNECTIONS_PER_SOURCE}. Every null must be matched by one {@link #released}.
     */
    public Rejection admission(InetAddress source) {
        if (open.incrementAndGet() > max) {
            open.decrementAndGet();
            return Rejection.MAX_CONNECTIONS;
        }
        boolean[] fits = {false};
        bySource.compute(source, (address, held) -> {
            int now = held == null ? 0 : held;
            if (now >= maxPerSource) {
                return held;
            }
            fits[0] = true;
            return now + 1;
        });
        if (!fits[0]) {
            open.decrementAndGet();
            return Rejection.MAX_CONNECTIONS_PER_SOURCE;
        }
        return null;
    }

    public void released(InetAddress source) {
        bySource.computeIfPresent(source, (address, held) -> held <= 1 ? null : held - 1);
        open.decrementAndGet();
    }

    public int open() {
        return open.get();
    }

    /** Connections from {@code source} open now (only those counted by {@link #admission}). */
    public int open(InetAddress source) {
        return bySource.getOrDefault(source, 0);
    }
}
