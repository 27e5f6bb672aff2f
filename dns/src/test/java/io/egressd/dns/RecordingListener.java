package io.egressd.dns;

import io.egressd.policy.Decision;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Front;
import io.egressd.policy.Rejection;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Keeps every DNS query the filter reports. */
final class RecordingListener implements EgressListener {

    record Query(InetSocketAddress client, Decision decision, String qname, String qtype, String rcode) { }

    final List<Query> queries = new CopyOnWriteArrayList<>();
    /** TCP connections closed before a query was answered, as {@code front/why}. */
    final List<String> rejected = new CopyOnWriteArrayList<>();
    final java.util.concurrent.atomic.AtomicLong dropped = new java.util.concurrent.atomic.AtomicLong();

    @Override
    public void rejected(Front front, Rejection why) {
        rejected.add(front.code() + "/" + why.code());
    }

    @Override
    public void queryDropped(Rejection why) {
        if (why == Rejection.RATE_LIMITED) {
            dropped.incrementAndGet();
        }
    }

    @Override
    public void queried(InetSocketAddress client, Decision decision, String qname, String qtype, String rcode) {
        queries.add(new Query(client, decision, qname, qtype, rcode));
    }

    Query last(String qname) {
        for (int i = queries.size() - 1; i >= 0; i--) {
            if (queries.get(i).qname().equals(qname)) {
                return queries.get(i);
            }
        }
        throw new AssertionError("no query reported for " + qname + " in " + queries);
    }
}
