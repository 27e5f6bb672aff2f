package io.egressd.dns;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * The part of an upstream answer worth keeping, before any policy is applied: the CNAME chain
 * from the question name and the records of the asked type at its end, plus the SOA of a
 * negative answer. Everything else (unrelated records, NS, glue in the additional section,
 * DNSSEC records we would not validate) is dropped, so no address reaches a client except
 * through the answer filter. Immutable; the cache shares one instance between clients.
 *
 * @param rcode      NOERROR or NXDOMAIN
 * @param answers    the chain and the asked-for records, with the TTLs upstream gave
 * @param authority  the SOA of a negative answer, else empty
 * @param ttlSeconds how long the answer may be served (RFC 2308 for negative ones); 0: not cacheable
 * @param receivedAt {@link System#nanoTime()}-style time it arrived
 */
record UpstreamAnswer(int rcode, List<Record> answers, List<Record> authority, long ttlSeconds, long receivedAt) {

    /** Caps how long anything stays cached, whatever upstream says (a day, as Unbound does). */
    static final long MAX_TTL = TimeUnit.DAYS.toSeconds(1);
    /** RFC 2308 section 5: negative answers are cached for at most a few hours. */
    static final long MAX_NEGATIVE_TTL = TimeUnit.HOURS.toSeconds(3);
    /** Longest CNAME chain followed; real ones are a handful of links. */
    static final int MAX_CHAIN = 16;

    UpstreamAnswer {
        answers = List.copyOf(answers);
        authority = List.copyOf(authority);
    }

    /** Keeps what answers {@code qname}/{@code qtype} from a NOERROR or NXDOMAIN response. */
    static UpstreamAnswer of(Message response, Name qname, int qtype, long now) {
        List<Record> section = response.getSection(Section.ANSWER);
        List<Record> kept = new ArrayList<>();
        Set<Name> visited = new HashSet<>();
        Name current = qname;
        boolean found = false;
        while (current != null && visited.add(current) && visited.size() <= MAX_CHAIN) {
            Name next = null;
            for (Record r : section) {
                if (r.getDClass() != DClass.IN || !r.getName().equals(current)) {
                    continue;
                }
                if (r.getType() == qtype) {
                    kept.add(r);
                    found = true;
                } else if (r.getType() == Type.CNAME && next == null) {
                    kept.add(r);
                    next = ((CNAMERecord) r).getTarget();
                }
            }
            current = found ? null : next;
        }
        int rcode = response.getRcode();
        List<Record> soa = new ArrayList<>();
        if (!found) {
            for (Record r : response.getSection(Section.AUTHORITY)) {
                if (r instanceof SOARecord s) {
                    // RFC 2308 section 3: the SOA's TTL in a negative answer is the negative TTL.
                    soa.add(withTtl(s, Math.min(s.getTTL(), s.getMinimum())));
                    break;
                }
            }
        }
        return new UpstreamAnswer(rcode, kept, soa, ttl(found, kept, soa), now);
    }

    private static long ttl(boolean positive, List<Record> answers, List<Record> soa) {
        long ttl = Long.MAX_VALUE;
        for (Record r : answers) {
            ttl = Math.min(ttl, r.getTTL());
        }
        if (positive) {
            return Math.min(ttl, MAX_TTL);
        }
        if (soa.isEmpty()) {
            // RFC 2308 section 5: a negative answer without an SOA is not cached.
            return 0;
        }
        SOARecord s = (SOARecord) soa.get(0);
        ttl = Math.min(ttl, Math.min(s.getTTL(), s.getMinimum()));
        return Math.min(ttl, MAX_NEGATIVE_TTL);
    }

    boolean cacheable() {
        return ttlSeconds > 0 && (rcode == Rcode.NOERROR || rcode == Rcode.NXDOMAIN);
    }

    long expiresAt() {
        return receivedAt + TimeUnit.SECONDS.toNanos(ttlSeconds);
    }

    /** Whole seconds this answer has been held at {@code now}. */
    long ageSeconds(long now) {
        return Math.max(0, TimeUnit.NANOSECONDS.toSeconds(now - receivedAt));
    }

    /** {@code records} with TTLs counted down by the answer's age, so a cached answer never outlives upstream's. */
    static List<Record> aged(List<Record> records, long ageSeconds) {
        List<Record> out = new ArrayList<>(records.size());
        for (Record r : records) {
            out.add(withTtl(r, Math.max(0, r.getTTL() - ageSeconds)));
        }
        return out;
    }

    static Record withTtl(Record r, long ttl) {
        if (ttl == r.getTTL()) {
            return r;
        }
        return Record.newRecord(r.getName(), r.getType(), r.getDClass(), ttl, r.rdataToWireCanonical());
    }
}
