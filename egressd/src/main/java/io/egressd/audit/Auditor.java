package io.egressd.audit;

import io.egressd.policy.Decision;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import io.egressd.policy.ValidationError;
import io.egressd.reload.ReloadListener;
import io.egressd.reload.Trigger;
import java.net.InetSocketAddress;
import java.util.List;

/**
 * Decides which decisions become audit lines (docs/audit-events.md):
 * <ul>
 * <li>a refused connection: {@code egress.denied}, always;</li>
 * <li>an allowed connection: nothing when it opens, {@code egress.closed} with bytes and duration
 *     when it closes, if {@code audit.allowed} (default on): each connection is audited once;</li>
 * <li>a connection that report mode let through but enforce mode would refuse:
 *     {@code egress.allowed} with {@code would_deny: true} when it opens, always, because it stands
 *     for the {@code egress.denied} enforce mode would write, and a tunnel may stay open for hours;</li>
 * <li>a refused query: {@code dns.denied}, always; an allowed one: {@code dns.allowed} only with
 *     {@code audit.dns_allowed}, or always when it is a report-mode would-deny;</li>
 * <li>every policy load: {@code policy.loaded} or {@code policy.rejected}.</li>
 * </ul>
 * A refusal for {@code audit_unavailable} is not audited: it happens because the audit output
 * cannot be written, and queueing it would only fill the queue until the fronts block on it.
 * The metrics count it.
 */
public final class Auditor implements EgressListener, ReloadListener {

    private final AuditSink sink;
    private final AuditFormat format;
    private final boolean allowed;
    private final boolean dnsAllowed;

    /**
     * @param allowed    {@code audit.allowed}: audit allowed connections when they close
     * @param dnsAllowed {@code audit.dns_allowed}: audit allowed DNS answers
     */
    public Auditor(AuditSink sink, AuditFormat format, boolean allowed, boolean dnsAllowed) {
        this.sink = sink;
        this.format = format;
        this.allowed = allowed;
        this.dnsAllowed = dnsAllowed;
    }

    @Override
    public void decided(Protocol protocol, InetSocketAddress client, Decision decision) {
        if (unauditable(decision)) {
            return;
        }
        if (decision.denied()) {
            write(AuditEvent.EGRESS_DENIED, format.egress(AuditEvent.EGRESS_DENIED, protocol, client, decision));
        } else if (decision.wouldDeny()) {
            write(AuditEvent.EGRESS_ALLOWED, format.egress(AuditEvent.EGRESS_ALLOWED, protocol, client, decision));
        }
    }

    @Override
    public void closed(Protocol protocol, InetSocketAddress client, Decision decision,
                       long bytesSent, long bytesReceived, long durationMillis) {
        if (allowed) {
            write(AuditEvent.EGRESS_CLOSED,
                    format.closed(protocol, client, decision, bytesSent, bytesReceived, durationMillis));
        }
    }

    @Override
    public void queried(InetSocketAddress client, Decision decision, String qname, String qtype, String rcode) {
        if (unauditable(decision)) {
            return;
        }
        if (decision.denied()) {
            write(AuditEvent.DNS_DENIED, format.dns(AuditEvent.DNS_DENIED, client, decision, qname, qtype, rcode));
        } else if (dnsAllowed || decision.wouldDeny()) {
            write(AuditEvent.DNS_ALLOWED, format.dns(AuditEvent.DNS_ALLOWED, client, decision, qname, qtype, rcode));
        }
    }

    @Override
    public void loaded(Policy policy, Trigger trigger) {
        write(AuditEvent.POLICY_LOADED, format.policyLoaded(policy.version()));
    }

    @Override
    public void rejected(Policy kept, List<ValidationError> errors, Trigger trigger) {
        write(AuditEvent.POLICY_REJECTED, format.policyRejected(kept.version()));
    }

    private static boolean unauditable(Decision decision) {
        return decision.reason() == Reason.AUDIT_UNAVAILABLE;
    }

    private void write(AuditEvent event, String line) {
        sink.write(event, line);
    }
}
