package io.egressd.audit;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.policy.Decision;
import io.egressd.policy.Mode;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** Each event carries exactly its fields (design.md section 7), in a fixed order, and validates against the schema. */
class AuditFormatTest {

    final AuditFormat format = new AuditFormat(Clock.fixed(Instant.parse("2025-11-27T09:04:05.123Z"), ZoneOffset.UTC));
    final InetSocketAddress client = Samples.client(40000);

    @Test
    void deniedConnectionLineIsExactlyThis() {
        String line = format.egress(AuditEvent.EGRESS_DENIED, Protocol.CONNECT, client,
                Samples.denied("slack", "evil.example", 443, Reason.HOST_NOT_ALLOWED));
        assertThat(line).isEqualTo("{\"time\":\"2025-11-27T09:04:05.123Z\",\"event\":\"egress.denied\","
                + "\"server\":\"slack\",\"mode\":\"enforce\",\"protocol\":\"connect\",\"client\":\"127.0.0.1:40000\","
                + "\"host\":\"evil.example\",\"port\":443,\"reason\":\"host_not_allowed\","
                + "\"policy_version\":\"0123456789ab\"}");
        assertThat(AuditSchema.errors(line)).isEmpty();
    }

    @Test
    void timeIsUtcWithMilliseconds() {
        AuditFormat zeroMillis = new AuditFormat(Clock.fixed(Instant.parse("2025-01-02T03:04:05Z"), ZoneOffset.UTC));
        assertThat(AuditSchema.parse(zeroMillis.policyLoaded("v")).get("time").asString())
                .isEqualTo("2025-01-02T03:04:05.000Z");
    }

    @Test
    void unidentifiedClientHasNoServerNorMode() {
        String line = format.egress(AuditEvent.EGRESS_DENIED, Protocol.HTTP, client,
                Samples.denied(null, "slack.com", 80, Reason.UNKNOWN_CLIENT));
        assertThat(fields(line)).containsExactly("time", "event", "protocol", "client", "host", "port", "reason",
                "policy_version");
        assertThat(AuditSchema.errors(line)).isEmpty();
    }

    @Test
    void globalRuleDenialNamesTheRule() {
        Decision d = new Decision(false, Reason.DENIED_BY_GLOBAL_RULE, "slack", Mode.ENFORCE, false,
                "metadata.google.internal", 80, "builtin:metadata.google.internal", null, Samples.VERSION);
        String line = format.egress(AuditEvent.EGRESS_DENIED, Protocol.HTTP, client, d);
        assertThat(AuditSchema.parse(line).get("rule").asString()).isEqualTo("builtin:metadata.google.internal");
        assertThat(AuditSchema.errors(line)).isEmpty();
    }

    @Test
    void invalidPortIsLeftOutNotInvented() {
        String line = format.egress(AuditEvent.EGRESS_DENIED, Protocol.CONNECT, client,
                Samples.denied("slack", "slack.com", 70000, Reason.INVALID_HOST));
        assertThat(fields(line)).doesNotContain("port");
        assertThat(AuditSchema.errors(line)).isEmpty();
    }

    @Test
    void ipv6ClientIsBracketedAndAddressIsNot() throws Exception {
        InetSocketAddress v6 = new InetSocketAddress(InetAddress.getByName("::1"), 5555);
        Decision d = new Decision(true, null, "slack", Mode.ENFORCE, false, "slack.com", 443,
                "allowlists/slack.yaml#allow[0]", InetAddress.getByName("2001:db8::7"), Samples.VERSION);
        String line = format.closed(Protocol.CONNECT, v6, d, 10, 20, 30);
        JsonNode node = AuditSchema.parse(line);
        assertThat(node.get("client").asString()).isEqualTo("[0:0:0:0:0:0:0:1]:5555");
        assertThat(node.get("address").asString()).isEqualTo("2001:db8:0:0:0:0:0:7");
        assertThat(AuditSchema.errors(line)).isEmpty();
    }

    @Test
    void closedConnectionCarriesBytesAndDuration() {
        String line = format.closed(Protocol.CONNECT, client, Samples.allowed("slack", "slack.com", 443),
                1234, 56789, 1500);
        assertThat(fields(line)).containsExactly("time", "event", "server", "mode", "would_deny", "protocol", "client",
                "host", "port", "address", "rule", "bytes_sent", "bytes_received", "duration_ms", "policy_version");
        JsonNode node = AuditSchema.parse(line);
        assertThat(node.get("event").asString()).isEqualTo("egress.closed");
        assertThat(node.get("would_deny").asBoolean()).isFalse();
        assertThat(node.get("address").asString()).isEqualTo("203.0.113.7");
        assertThat(node.get("bytes_sent").asLong()).isEqualTo(1234);
        assertThat(node.get("bytes_received").asLong()).isEqualTo(56789);
        assertThat(node.get("duration_ms").asLong()).isEqualTo(1500);
        assertThat(AuditSchema.errors(line)).isEmpty();
    }

    @Test
    void reportModeAllowedCarriesWouldDenyAndTheReason() {
        String line = format.egress(AuditEvent.EGRESS_ALLOWED, Protocol.HTTP, client,
                Samples.wouldDeny("fetch", "tracker.example", 80));
        assertThat(fields(line)).containsExactly("time", "event", "server", "mode", "would_deny", "protocol", "client",
                "host", "port", "address", "reason", "policy_version");
        JsonNode node = AuditSchema.parse(line);
        assertThat(node.get("would_deny").asBoolean()).isTrue();
        assertThat(node.get("mode").asString()).isEqualTo("report");
        assertThat(node.get("reason").asString()).isEqualTo("host_not_allowed");
        assertThat(AuditSchema.errors(line)).isEmpty();
    }

    @Test
    void dnsEventsCarryTheQuestionAndNoHostPortOrAddress() {
        String denied = format.dns(AuditEvent.DNS_DENIED, client, Samples.dnsDenied("slack", "c2VjcmV0.attacker.example"),
                "c2VjcmV0.attacker.example.", "TXT", "NXDOMAIN");
        assertThat(fields(denied)).containsExactly("time", "event", "server", "mode", "protocol", "client", "reason",
                "qname", "qtype", "rcode", "policy_version");
        assertThat(AuditSchema.parse(denied).get("protocol").asString()).isEqualTo("dns");
        String allowed = format.dns(AuditEvent.DNS_ALLOWED, client, Samples.dnsAllowed("slack", "slack.com"),
                "slack.com.", "A", "NOERROR");
        assertThat(fields(allowed)).containsExactly("time", "event", "server", "mode", "would_deny", "protocol",
                "client", "rule", "qname", "qtype", "rcode", "policy_version");
        assertThat(AuditSchema.errors(denied)).isEmpty();
        assertThat(AuditSchema.errors(allowed)).isEmpty();
    }

    @Test
    void policyEventsCarryOnlyTheVersion() {
        assertThat(fields(format.policyLoaded("abc"))).containsExactly("time", "event", "policy_version");
        assertThat(fields(format.policyRejected("abc"))).containsExactly("time", "event", "policy_version");
        assertThat(AuditSchema.errors(format.policyLoaded("abc"))).isEmpty();
        assertThat(AuditSchema.errors(format.policyRejected("abc"))).isEmpty();
    }

    @Test
    void hostileHostAndQnameStayInsideTheirValues() {
        String hostile = "x\",\"event\":\"egress.allowed\"}\n{\"a\":\"\u0000\u202e\u00fc\ud83d\ude00\ud800";
        String line = format.egress(AuditEvent.EGRESS_DENIED, Protocol.HTTP, client,
                Samples.denied("slack", hostile, 80, Reason.INVALID_HOST));
        String dns = format.dns(AuditEvent.DNS_DENIED, client, Samples.dnsDenied("slack", hostile), hostile, "A",
                "NXDOMAIN");
        for (String l : List.of(line, dns)) {
            assertThat(l).doesNotContain("\n");
            assertThat(l.chars()).allMatch(c -> c >= 0x20 && c <= 0x7e);
            assertThat(AuditSchema.errors(l)).isEmpty();
        }
        assertThat(AuditSchema.parse(line).get("host").asString()).isEqualTo(hostile);
        assertThat(AuditSchema.parse(line).get("event").asString()).isEqualTo("egress.denied");
        assertThat(AuditSchema.parse(dns).get("qname").asString()).isEqualTo(hostile);
    }

    @Test
    void schemaRejectsWhatTheFormatNeverWrites() {
        String good = format.egress(AuditEvent.EGRESS_DENIED, Protocol.CONNECT, client,
                Samples.denied("slack", "evil.example", 443, Reason.HOST_NOT_ALLOWED));
        assertThat(AuditSchema.errors(good.replace("\"port\":443,", ""))).as("port missing").isNotEmpty();
        assertThat(AuditSchema.errors(good.replace("}", ",\"extra\":1}"))).as("unknown field").isNotEmpty();
        assertThat(AuditSchema.errors(good.replace("}", ",\"bytes_sent\":1}"))).as("field of another event").isNotEmpty();
        assertThat(AuditSchema.errors(good.replace("2025-11-27T09:04:05.123Z", "2025-11-27 09:04:05")))
                .as("time format").isNotEmpty();
        assertThat(AuditSchema.errors(good.replace("host_not_allowed", "nope"))).as("reason").isNotEmpty();
    }

    static List<String> fields(String line) {
        List<String> names = new ArrayList<>();
        AuditSchema.parse(line).propertyNames().forEach(names::add);
        return names;
    }
}
