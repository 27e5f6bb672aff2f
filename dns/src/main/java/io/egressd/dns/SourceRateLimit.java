package io.egressd.dns;

import java.net.InetAddress;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * A token bucket of UDP queries per source address: {@code perSecond} tokens a second, holding
 * at most {@code burst}. One source using up its bucket leaves every other source's untouched.
 *
 * <p>Shared by the UDP sockets of the port, one per I/O thread: a source's datagrams may reach
 * any of them (the kernel spreads by address and port), so its bucket is one. Synchronized: the
 * I/O threads share one lock, held for a map lookup per datagram, which is small next to decoding it. The sources it tracks
 * are bounded (least recently seen forgotten first), so spoofed source addresses cannot grow
 * it; a forgotten source comes back with a full bucket, which is all a bucket of a quiet source
 * would hold anyway.
 */
final class SourceRateLimit {

    /** Sources tracked at once; a bucket is a few dozen bytes, so this is about 5 MB at most. */
    static final int MAX_SOURCES = 65_536;

    private final double perSecond;
    private final double burst;
    private final LongSupplier nanoClock;
    private final Map<InetAddress, Bucket> buckets = new LinkedHashMap<>(1024, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<InetAddress, Bucket> eldest) {
            return size() > MAX_SOURCES;
        }
    };

    /** @param perSecond 0 turns the limit off; {@code burst} at least 1 otherwise */
    SourceRateLimit(int perSecond, int burst, LongSupplier nanoClock) {
        this.perSecond = perSecond;
        this.burst = Math.max(1, burst);
        this.nanoClock = nanoClock;
    }

    /** Takes one query from {@code source}'s bucket; false when it is empty. Always true when off. */
    boolean tryQuery(InetAddress source) {
        // Off: no lock taken at all on the per-datagram path.
        return perSecond == 0 || take(source);
    }

    private synchronized boolean take(InetAddress source) {
        long now = nanoClock.getAsLong();
        Bucket b = buckets.get(source);
        if (b == null) {
            b = new Bucket(burst, now);
            buckets.put(source, b);
        }
        b.tokens = Math.min(burst, b.tokens + (now - b.last) / 1e9 * perSecond);
        b.last = now;
        if (b.tokens >= 1) {
            b.tokens -= 1;
            return true;
        }
        return false;
    }

    synchronized int trackedSources() {
        return buckets.size();
    }

    private static final class Bucket {
        double tokens;
        long last;

        Bucket(double tokens, long last) {
            this.tokens = tokens;
            this.last = last;
        }
    }
}
