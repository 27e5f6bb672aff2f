package io.egressd.dns;

import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;
import org.xbill.DNS.Record;

/**
 * Upstream answers by question, until their TTL runs out, at most {@code maxEntries} of them
 * and at most {@code maxBytes} of them by estimated size (the least recently used goes first);
 * an answer estimated over {@code maxAnswerBytes} is not cached at all. Answers are stored before
 * any policy is applied, so one entry serves every server and survives a policy reload;
 * filtering happens as it is served.
 */
final class AnswerCache {

    /** Rough heap cost of a cached record or entry beyond its wire bytes (objects, headers, map node). */
    private static final int OVERHEAD = 96;

    private record Entry(UpstreamAnswer answer, long bytes) { }

    private final int maxEntries;
    private final long maxBytes;
    private final int maxAnswerBytes;
    private final LongSupplier clock;
    // One lock around an access-ordered LinkedHashMap: each critical section is a hash lookup,
    // far cheaper than the DNS round trip it saves, so contention between event loops stays negligible.
    private final Map<QuestionKey, Entry> entries;
    private long bytes;

    AnswerCache(int maxEntries, LongSupplier clock) {
        this(maxEntries, DnsSettings.DEFAULT_CACHE_MAX_BYTES, DnsSettings.MAX_CACHED_ANSWER_BYTES, clock);
    }

    AnswerCache(int maxEntries, long maxBytes, int maxAnswerBytes, LongSupplier clock) {
        this.maxEntries = maxEntries;
        this.maxBytes = maxBytes;
        this.maxAnswerBytes = maxAnswerBytes;
        this.clock = clock;
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<QuestionKey, Entry> eldest) {
                if (size() > AnswerCache.this.maxEntries) {
                    bytes -= eldest.getValue().bytes();
                    return true;
                }
                return false;
            }
        };
    }

    /** The estimated heap bytes {@code answer} holds under {@code key}: wire sizes plus object overhead. */
    static long estimate(QuestionKey key, UpstreamAnswer answer) {
        long total = OVERHEAD + 2L * key.name().length();
        for (Record r : answer.answers()) {
            total += OVERHEAD + r.toWireCanonical().length;
        }
        for (Record r : answer.authority()) {
            total += OVERHEAD + r.toWireCanonical().length;
        }
        return total;
    }

    /** The live answer for {@code key}, or null when there is none or it has expired. */
    UpstreamAnswer get(QuestionKey key) {
        if (maxEntries == 0) {
            return null;
        }
        long now = clock.getAsLong();
        synchronized (entries) {
            Entry entry = entries.get(key);
            if (entry == null) {
                return null;
            }
            if (now - entry.answer().expiresAt() >= 0) {
                entries.remove(key);
                bytes -= entry.bytes();
                return null;
            }
            return entry.answer();
        }
    }

    void put(QuestionKey key, UpstreamAnswer answer) {
        if (maxEntries == 0 || maxBytes == 0 || !answer.cacheable()) {
            return;
        }
        long size = estimate(key, answer);
        if (size > maxAnswerBytes || size > maxBytes) {
            return;
        }
        synchronized (entries) {
            Entry old = entries.put(key, new Entry(answer, size));
            if (old != null) {
                bytes -= old.bytes();
            }
            bytes += size;
            Iterator<Entry> eldestFirst = entries.values().iterator();
            while (bytes > maxBytes && eldestFirst.hasNext()) {
                bytes -= eldestFirst.next().bytes();
                eldestFirst.remove();
            }
        }
    }

    int size() {
        synchronized (entries) {
            return entries.size();
        }
    }

    /** The estimated bytes held now. */
    long bytes() {
        synchronized (entries) {
            return bytes;
        }
    }

    long now() {
        return clock.getAsLong();
    }
}
