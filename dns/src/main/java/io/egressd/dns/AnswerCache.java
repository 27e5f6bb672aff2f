package io.egressd.dns;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * Upstream answers by question, until their TTL runs out, at most {@code maxEntries} of them
 * (the least recently used goes first). Answers are stored before any policy is applied, so
 * one entry serves every server and survives a policy reload; filtering happens as it is served.
 */
final class AnswerCache {

    private final int maxEntries;
    private final LongSupplier clock;
    // One lock around an access-ordered LinkedHashMap: each critical section is a hash lookup,
    // far cheaper than the DNS round trip it saves, so contention between event loops stays negligible.
    private final Map<QuestionKey, UpstreamAnswer> entries;

    AnswerCache(int maxEntries, LongSupplier clock) {
        this.maxEntries = maxEntries;
        this.clock = clock;
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<QuestionKey, UpstreamAnswer> eldest) {
                return size() > AnswerCache.this.maxEntries;
            }
        };
    }

    /** The live answer for {@code key}, or null when there is none or it has expired. */
    UpstreamAnswer get(QuestionKey key) {
        if (maxEntries == 0) {
            return null;
        }
        long now = clock.getAsLong();
        synchronized (entries) {
            UpstreamAnswer answer = entries.get(key);
            if (answer != null && now - answer.expiresAt() >= 0) {
                entries.remove(key);
                return null;
            }
            return answer;
        }
    }

    void put(QuestionKey key, UpstreamAnswer answer) {
        if (maxEntries == 0 || !answer.cacheable()) {
            return;
        }
        synchronized (entries) {
            entries.put(key, answer);
        }
    }

    int size() {
        synchronized (entries) {
            return entries.size();
        }
    }

    long now() {
        return clock.getAsLong();
    }
}
