package io.egressd.metrics;

import io.egressd.audit.Auditor;
import io.egressd.policy.Decision;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Front;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.policy.Rejection;
import io.egressd.policy.ValidationError;
import io.egressd.reload.ReloadListener;
import io.egressd.reload.Trigger;
import java.net.InetSocketAddress;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one {@link EgressListener} the daemon hands to the fronts, and the {@link ReloadListener}
 * it hands to the reloader: every call goes to the audit first (which may block when its queue
 * is full: back-pressure on the client causing the events), then to the metrics. A failure in
 * one never keeps the other from counting, and never reaches the front's I/O thread.
 */
public final class EgressObservers implements EgressListener, ReloadListener {

    private static final Logger LOG = LoggerFactory.getLogger(EgressObservers.class);

    private final Auditor audit;
    private final EgressMetrics metrics;

    public EgressObservers(Auditor audit, EgressMetrics metrics) {
        this.audit = audit;
        this.metrics = metrics;
    }

    @Override
    public void decided(Protocol protocol, InetSocketAddress client, Decision decision) {
        run(() -> audit.decided(protocol, client, decision));
        run(() -> metrics.decided(protocol, client, decision));
    }

    @Override
    public void closed(Protocol protocol, InetSocketAddress client, Decision decision,
                       long bytesSent, long bytesReceived, long durationMillis) {
        run(() -> audit.closed(protocol, client, decision, bytesSent, bytesReceived, durationMillis));
        run(() -> metrics.closed(protocol, client, decision, bytesSent, bytesReceived, durationMillis));
    }

    @Override
    public void upstreamConnected(Protocol protocol, Decision decision, long connectNanos) {
        run(() -> metrics.upstreamConnected(java.time.Duration.ofNanos(connectNanos)));
    }

    @Override
    public void queried(InetSocketAddress client, Decision decision, String qname, String qtype, String rcode) {
        run(() -> audit.queried(client, decision, qname, qtype, rcode));
        run(() -> metrics.queried(client, decision, qname, qtype, rcode));
    }

    /** Counted only: no server is known, and an audit line per flooded connection would let a flood fill the disk. */
    @Override
    public void rejected(Front front, Rejection why) {
        run(() -> metrics.rejected(front, why));
    }

    @Override
    public void queryDropped(Rejection why) {
        run(() -> metrics.queryDropped(why));
    }

    @Override
    public void loaded(Policy policy, Trigger trigger) {
        run(() -> audit.loaded(policy, trigger));
        run(() -> metrics.loaded(policy, trigger));
    }

    @Override
    public void rejected(Policy kept, List<ValidationError> errors, Trigger trigger) {
        run(() -> audit.rejected(kept, errors, trigger));
        run(() -> metrics.rejected(kept, errors, trigger));
    }

    private static void run(Runnable call) {
        try {
            call.run();
        } catch (RuntimeException e) {
            LOG.error("audit or metrics failed", e);
        }
    }
}
