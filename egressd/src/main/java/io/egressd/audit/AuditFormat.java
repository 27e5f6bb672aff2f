package io.egressd.audit;

import io.egressd.policy.Decision;
import io.egressd.policy.Protocol;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;

/**
 * Turns decisions into audit lines with the fields of design.md section 7, in one fixed
 * order, leaving out every field that does not apply (docs/audit-events.md says which).
 */
public final class AuditFormat {

    private final Clock clock;
    private final UtcTimestamp time = new UtcTimestamp();

    public AuditFormat(Clock clock) {
        this.clock = clock;
    }

    /** {@code egress.denied} or {@code egress.allowed}: a connection decided, before any byte moved. */
    public String egress(AuditEvent event, Protocol protocol, InetSocketAddress client, Decision d) {
        return egressFields(start(event), event != AuditEvent.EGRESS_DENIED, protocol, client, d)
                .string("policy_version", d.policyVersion())
                .end();
    }

    /** {@code egress.closed}: an allowed connection ended; bytes as the proxy counted them. */
    public String closed(Protocol protocol, InetSocketAddress client, Decision d,
                         long bytesSent, long bytesReceived, long durationMillis) {
        return egressFields(start(AuditEvent.EGRESS_CLOSED), true, protocol, client, d)
                .number("bytes_sent", bytesSent)
                .number("bytes_received", bytesReceived)
                .number("duration_ms", durationMillis)
                .string("policy_version", d.policyVersion())
                .end();
    }

    /** {@code dns.denied} or {@code dns.allowed}: a query answered. */
    public String dns(AuditEvent event, InetSocketAddress client, Decision d, String qname, String qtype,
                      String rcode) {
        JsonLine line = identity(start(event), d);
        if (event == AuditEvent.DNS_ALLOWED) {
            line.bool("would_deny", d.wouldDeny());
        }
        return line.string("protocol", Protocol.DNS.code())
                .string("client", client(client))
                .string("rule", d.rule())
                .string("reason", d.reason() == null ? null : d.reason().code())
                .string("qname", qname)
                .string("qtype", qtype)
                .string("rcode", rcode)
                .string("policy_version", d.policyVersion())
                .end();
    }

    /** {@code policy.loaded}: the policy now in force. */
    public String policyLoaded(String version) {
        return start(AuditEvent.POLICY_LOADED).string("policy_version", version).end();
    }

    /** {@code policy.rejected}: a reload failed validation; {@code keptVersion} stays in force. */
    public String policyRejected(String keptVersion) {
        return start(AuditEvent.POLICY_REJECTED).string("policy_version", keptVersion).end();
    }

    private JsonLine start(AuditEvent event) {
        return new JsonLine().string("time", time.format(clock.instant())).string("event", event.code());
    }

    private static JsonLine identity(JsonLine line, Decision d) {
        return line.string("server", d.server()).string("mode", d.mode() == null ? null : d.mode().code());
    }

    private static JsonLine egressFields(JsonLine line, boolean allowedEvent, Protocol protocol,
                                         InetSocketAddress client, Decision d) {
        identity(line, d);
        if (allowedEvent) {
            line.bool("would_deny", d.wouldDeny());
        }
        line.string("protocol", protocol == null ? null : protocol.code())
                .string("client", client(client))
                .string("host", d.host());
        // A port outside 0-65535 is what made some invalid_host refusals; it is left out, not invented.
        if (d.port() >= 0 && d.port() <= 65535) {
            line.number("port", d.port());
        }
        return line.string("address", d.address() == null ? null : d.address().getHostAddress())
                .string("rule", d.rule())
                .string("reason", d.reason() == null ? null : d.reason().code());
    }

    /** {@code ip:port}, IPv6 bracketed; never a reverse lookup. */
    static String client(InetSocketAddress client) {
        if (client == null) {
            return null;
        }
        InetAddress a = client.getAddress();
        String host = a == null ? client.getHostString()
                : a instanceof Inet6Address ? "[" + a.getHostAddress() + "]" : a.getHostAddress();
        return host + ":" + client.getPort();
    }
}
