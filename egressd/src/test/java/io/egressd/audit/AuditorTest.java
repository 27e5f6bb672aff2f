package io.egressd.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import io.egressd.policy.ValidationError;
import io.egressd.reload.Trigger;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which decisions become which audit events, under audit.allowed and audit.dns_allowed. */
class AuditorTest {

    final RecordingSink sink = new RecordingSink();
    final InetSocketAddress client = Samples.client(40000);

    Auditor auditor(boolean allowed, boolean dnsAllowed) {
        return new Auditor(sink, new AuditFormat(Clock.systemUTC()), allowed, dnsAllowed);
    }

    @Test
    void denialsAreAuditedEvenWithAllowedAuditingOff() {
        Auditor a = auditor(false, false);
        a.decided(Protocol.CONNECT, client, Samples.denied("slack", "evil.example", 443, Reason.HOST_NOT_ALLOWED));
        a.queried(client, Samples.dnsDenied("slack", "evil.example"), "evil.example.", "A", "NXDOMAIN");
        assertThat(sink.events()).containsExactly(AuditEvent.EGRESS_DENIED, AuditEvent.DNS_DENIED);
    }

    @Test
    void refusalsForAnUnavailableAuditAreNotQueuedIntoTheFailingAudit() {
        Auditor a = auditor(true, true);
        a.decided(Protocol.HTTP, client, Samples.denied("slack", "slack.com", 80, Reason.AUDIT_UNAVAILABLE));
        a.queried(client, Samples.denied("slack", "slack.com", 0, Reason.AUDIT_UNAVAILABLE), "slack.com.", "A",
                "NXDOMAIN");
        assertThat(sink.lines).isEmpty();
    }

    @Test
    void allowedConnectionIsAuditedOnceAtClose() {
        Auditor a = auditor(true, false);
        a.decided(Protocol.CONNECT, client, Samples.allowed("slack", "slack.com", 443));
        assertThat(sink.lines).isEmpty();
        a.closed(Protocol.CONNECT, client, Samples.allowed("slack", "slack.com", 443), 1, 2, 3);
        assertThat(sink.events()).containsExactly(AuditEvent.EGRESS_CLOSED);
    }

    @Test
    void allowedConnectionsAreNotAuditedWhenAllowedIsOff() {
        Auditor a = auditor(false, false);
        a.decided(Protocol.HTTP, client, Samples.allowed("slack", "slack.com", 80));
        a.closed(Protocol.HTTP, client, Samples.allowed("slack", "slack.com", 80), 1, 2, 3);
        assertThat(sink.lines).isEmpty();
    }

    @Test
    void reportModeWouldDenyIsAuditedWhenItOpensWhateverTheSettings() {
        Auditor a = auditor(false, false);
        a.decided(Protocol.CONNECT, client, Samples.wouldDeny("fetch", "tracker.example", 443));
        a.closed(Protocol.CONNECT, client, Samples.wouldDeny("fetch", "tracker.example", 443), 1, 2, 3);
        a.queried(client, new io.egressd.policy.Decision(true, Reason.HOST_NOT_ALLOWED, "fetch",
                io.egressd.policy.Mode.REPORT, true, "tracker.example", 0, null, null, Samples.VERSION),
                "tracker.example.", "A", "NOERROR");
        assertThat(sink.events()).containsExactly(AuditEvent.EGRESS_ALLOWED, AuditEvent.DNS_ALLOWED);
        assertThat(sink.lines).allSatisfy(l -> assertThat(AuditSchema.parse(l.json()).get("would_deny").asBoolean())
                .isTrue());
    }

    @Test
    void reportModeConnectionAlsoClosesWithWouldDenyWhenAllowedIsOn() {
        Auditor a = auditor(true, false);
        a.decided(Protocol.CONNECT, client, Samples.wouldDeny("fetch", "tracker.example", 443));
        a.closed(Protocol.CONNECT, client, Samples.wouldDeny("fetch", "tracker.example", 443), 1, 2, 3);
        assertThat(sink.events()).containsExactly(AuditEvent.EGRESS_ALLOWED, AuditEvent.EGRESS_CLOSED);
        assertThat(AuditSchema.parse(sink.lines.get(1).json()).get("would_deny").asBoolean()).isTrue();
    }

    @Test
    void allowedDnsAnswersOnlyWithDnsAllowed() {
        auditor(true, false).queried(client, Samples.dnsAllowed("slack", "slack.com"), "slack.com.", "A", "NOERROR");
        assertThat(sink.lines).isEmpty();
        auditor(true, true).queried(client, Samples.dnsAllowed("slack", "slack.com"), "slack.com.", "A", "NOERROR");
        assertThat(sink.events()).containsExactly(AuditEvent.DNS_ALLOWED);
    }

    @Test
    void policyLoadsAreAudited() {
        Auditor a = auditor(false, false);
        a.loaded(Policy.empty(), Trigger.STARTUP);
        a.rejected(Policy.empty(), List.of(new ValidationError("allowlists/slack.yaml", 3, 1, "bad")), Trigger.FILE);
        assertThat(sink.events()).containsExactly(AuditEvent.POLICY_LOADED, AuditEvent.POLICY_REJECTED);
        assertThat(sink.lines).allSatisfy(l -> assertThat(AuditSchema.parse(l.json()).get("policy_version").asString())
                .isEqualTo("empty"));
    }
}
