package io.egressd.policy;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Which address each server was told, for which allowed name, and until when: what egressd's
 * DNS filter answered after filtering. A SOCKS5 client that resolves names itself (through
 * egressd's DNS) and then asks for an IP address is decided as if it had asked for the name,
 * but only for its own server, only for a name it was allowed, and only within the answer's TTL.
 *
 * <p>Pure bookkeeping: no I/O, time from the supplied clock. Bounded: at most
 * {@code maxEntries} (server, address) pairs, the least recently used going first, and a few
 * names per pair (a CDN address shared by several allowed names).
 */
public final class LearnedAddresses {

    public static final int DEFAULT_MAX_ENTRIES = 10_000;
    /** Names kept per (server, address); the oldest goes first. */
    static final int MAX_NAMES = 4;
    /** A TTL above a day is read as a day, as the DNS cache does. */
    static final long MAX_TTL_SECONDS = TimeUnit.DAYS.toSeconds(1);

    private record Key(String server, InetAddress address) { }

    private final int maxEntries;
    private final LongSupplier clock;
    // One lock around an access-ordered map: written per DNS answer and read per SOCKS request,
    // each a hash lookup, so the DNS and SOCKS event loops that meet here barely contend.
    private final Map<Key, LinkedHashMap<String, Long>> entries;

    /**
     * @param maxEntries (server, address) pairs kept at most
     * @param nanoClock  {@link System#nanoTime()}, or a test's clock
     */
    public LearnedAddresses(int maxEntries, LongSupplier nanoClock) {
        if (maxEntries < 1) {
            throw new IllegalArgumentException("maxEntries must be at least 1");
        }
        this.maxEntries = maxEntries;
        this.clock = nanoClock;
        this.entries = new LinkedHashMap<>(64, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Key, LinkedHashMap<String, Long>> eldest) {
                return size() > LearnedAddresses.this.maxEntries;
            }
        };
    }

    /** A store of {@link #DEFAULT_MAX_ENTRIES} on the system clock. */
    public static LearnedAddresses create() {
        return new LearnedAddresses(DEFAULT_MAX_ENTRIES, System::nanoTime);
    }

    /**
     * Records that {@code server} was answered {@code address} for the allowed {@code name},
     * valid for {@code ttlSeconds} from now (0: not at all).
     */
    public void learned(String server, String name, InetAddress address, long ttlSeconds) {
        if (ttlSeconds <= 0) {
            return;
        }
        long until = clock.getAsLong() + TimeUnit.SECONDS.toNanos(Math.min(ttlSeconds, MAX_TTL_SECONDS));
        synchronized (entries) {
            LinkedHashMap<String, Long> names = entries.computeIfAbsent(new Key(server, address),
                    k -> new LinkedHashMap<>(4));
            names.remove(name); // re-inserted last: the most recent answer
            names.put(name, until);
            if (names.size() > MAX_NAMES) {
                Iterator<String> oldest = names.keySet().iterator();
                oldest.next();
                oldest.remove();
            }
        }
    }

    /** The names {@code server} learned {@code address} for that have not expired, most recent first. */
    public List<String> names(String server, InetAddress address) {
        long now = clock.getAsLong();
        Key key = new Key(server, address);
        synchronized (entries) {
            LinkedHashMap<String, Long> names = entries.get(key);
            if (names == null) {
                return List.of();
            }
            List<String> live = new ArrayList<>(names.size());
            for (Iterator<Map.Entry<String, Long>> it = names.entrySet().iterator(); it.hasNext(); ) {
                Map.Entry<String, Long> e = it.next();
                if (now - e.getValue() >= 0) {
                    it.remove();
                } else {
                    live.add(0, e.getKey());
                }
            }
            if (names.isEmpty()) {
                entries.remove(key);
            }
            return live;
        }
    }

    /**
     * The decision for a connection by {@code server} to the IP literal {@code target}: the
     * literal's own decision (step 5: a {@code cidr} rule) unless that refuses it, or only lets
     * it through in report mode; then, for each name this server learned the address for, the
     * decision for that name vetted with exactly this address, as a CONNECT to the name would
     * be. The first clean allow wins (its host is the name, its address the literal); without
     * one the literal's decision stands. Identity, invalid hosts and global denies are never
     * reconsidered.
     */
    public Decision decide(Policy policy, String server, Host.Ip target, int port) {
        Decision literal = policy.evaluate(server, target.toString(), port).decision();
        boolean reconsider = literal.allowed() ? literal.wouldDeny()
                : literal.reason() == Reason.IP_LITERAL_NOT_ALLOWED || literal.reason() == Reason.PORT_NOT_ALLOWED;
        if (!reconsider) {
            return literal;
        }
        InetAddress address = target.address();
        for (String name : names(server, address)) {
            Evaluation evaluation = policy.evaluate(server, name, port);
            Decision byName = evaluation.needsAddresses() ? evaluation.vet(List.of(address)) : evaluation.decision();
            if (byName.allowed() && !byName.wouldDeny()) {
                return byName;
            }
        }
        return literal;
    }

    /** (server, address) pairs held now, expired ones included until they are next looked at. */
    public int size() {
        synchronized (entries) {
            return entries.size();
        }
    }
}
