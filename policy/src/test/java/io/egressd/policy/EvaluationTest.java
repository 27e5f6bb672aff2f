package io.egressd.policy;

import static io.egressd.policy.Fixtures.ip;
import static io.egressd.policy.Fixtures.rule;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The split decision the DNS filter uses: {@link Policy#evaluateQuery} decides a question
 * name, {@link Evaluation#provisional()} is what the query is told, and
 * {@link Evaluation#permits} filters the upstream answer with the same rules as {@link Evaluation#vet}.
 */
class EvaluationTest {

    private static Policy policy;

    @BeforeAll
    static void load() {
        policy = Fixtures.validPolicy();
    }

    @Test
    void aRefusingCopyRefusesEveryDestinationOfAnIdentifiedServerAndLeavesTheOriginalAlone() {
        Policy refusing = policy.refusingAll(Reason.AUDIT_UNAVAILABLE);
        for (Evaluation e : List.of(refusing.evaluateQuery("slack", "api.slack.com"),
                refusing.evaluate("slack", "api.slack.com", 443), refusing.evaluate("slack", "9.9.9.9", 443))) {
            assertThat(e.needsAddresses()).isFalse();
            Decision d = e.decision();
            assertThat(d.allowed()).isFalse();
            assertThat(d.wouldDeny()).isFalse();
            assertThat(d.reason()).isEqualTo(Reason.AUDIT_UNAVAILABLE);
            assertThat(d.server()).isEqualTo("slack");
            assertThat(d.policyVersion()).isEqualTo(policy.version());
            assertThat(e.permits(ip("9.9.9.9"))).isFalse();
        }
        // Identification is unchanged: an unknown client is still refused as unknown.
        assertThat(refusing.evaluate("nobody", "api.slack.com", 443).decision().reason())
                .isEqualTo(Reason.UNKNOWN_CLIENT);
        assertThat(refusing.servers()).isEqualTo(policy.servers());
        assertThat(Reason.AUDIT_UNAVAILABLE.reportable()).as("report mode never lets it through").isFalse();
        assertThat(policy.evaluate("slack", "api.slack.com", 443).needsAddresses()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "1.2.3.4.", "2130706433", "0x7f.1", "[::1]", "slack.com%2e", "", "."})
    void ipShapedAndInvalidQuestionNamesAreInvalidAndNeverForwarded(String qname) {
        Evaluation e = policy.evaluateQuery("slack", qname);
        assertThat(e.needsAddresses()).isFalse();
        assertThat(e.provisional().allowed()).isFalse();
        assertThat(e.provisional().reason()).isEqualTo(Reason.INVALID_HOST);
        assertThat(e.permits(ip("9.9.9.9"))).isFalse();
    }

    @Test
    void anAllowedNameIsAnsweredWithItsPermittedAddressesOnly() {
        Evaluation e = policy.evaluateQuery("slack", "API.Slack.com.");
        assertThat(e.needsAddresses()).isTrue();
        assertThat(e.name()).isEqualTo("api.slack.com");
        Decision told = e.provisional();
        assertThat(told.allowed()).isTrue();
        assertThat(told.wouldDeny()).isFalse();
        assertThat(told.rule()).isEqualTo(rule("slack", 1));
        assertThat(told.port()).isZero();
        assertThatThrownBy(e::decision).isInstanceOf(IllegalStateException.class);

        assertThat(e.permits(ip("9.9.9.9"))).isTrue();
        assertThat(e.permits(ip("2001:4860:4860::8888"))).isTrue();
        assertThat(e.permits(ip("127.0.0.1"))).isFalse();
        assertThat(e.permits(ip("::1"))).isFalse();
        assertThat(e.permits(ip("169.254.169.254"))).isFalse();
        assertThat(e.permits(ip("64:ff9b::a9fe:a9fe"))).isFalse();
        assertThat(e.permits(ip("mapped:127.0.0.1"))).isFalse();
        assertThat(e.permits(ip("10.1.2.3"))).as("private without private: true").isFalse();
        assertThat(e.permits(ip("10.20.99.1"))).as("global deny cidr").isFalse();
        assertThat(e.permits(ip("0.0.0.0"))).isFalse();
    }

    @Test
    void portsDoNotMatterToQueries() {
        // files.slack-edge.com lists 443 and 8443; db.internal.example.com only 5432.
        assertThat(policy.evaluateQuery("postgres", "db.internal.example.com").provisional().allowed()).isTrue();
        Evaluation dev = policy.evaluateQuery("local-dev", "dev.example.net");
        assertThat(dev.provisional().allowed()).isTrue();
        // A cidr rule of the server opens its range for the answer, whatever its ports.
        assertThat(dev.permits(ip("127.0.0.1"))).isTrue();
        assertThat(dev.permits(ip("::1"))).isFalse();
    }

    @Test
    void privateTrueOpensPrivateRangesButNotTheFloor() {
        Evaluation e = policy.evaluateQuery("postgres", "db.internal.example.com");
        assertThat(e.permits(ip("10.1.2.3"))).isTrue();
        assertThat(e.permits(ip("172.16.0.1"))).isTrue();
        assertThat(e.permits(ip("192.168.1.1"))).isTrue();
        assertThat(e.permits(ip("100.64.0.1"))).isTrue();
        assertThat(e.permits(ip("fd12::1"))).isTrue();
        assertThat(e.permits(ip("127.0.0.1"))).isFalse();
        assertThat(e.permits(ip("169.254.169.254"))).isFalse();
        assertThat(e.permits(ip("fd00:ec2::254"))).as("AWS metadata is inside fc00::/7 but not private").isFalse();
        assertThat(e.permits(ip("100.100.100.200"))).as("Alibaba metadata is inside CGNAT but not private").isFalse();
        assertThat(e.permits(ip("10.20.99.3"))).as("global deny cidr").isFalse();
    }

    @Test
    void refusedNamesAreRefusedWithoutALookup() {
        Evaluation notListed = policy.evaluateQuery("slack", "exfil-c2VjcmV0.attacker.example");
        assertThat(notListed.needsAddresses()).isFalse();
        assertThat(notListed.decision().reason()).isEqualTo(Reason.HOST_NOT_ALLOWED);
        assertThat(notListed.permits(ip("9.9.9.9"))).isFalse();

        Evaluation local = policy.evaluateQuery("fetch", "metadata.google.internal.");
        assertThat(local.needsAddresses()).isFalse();
        assertThat(local.decision().reason()).isEqualTo(Reason.DENIED_BY_GLOBAL_RULE);
        assertThat(local.decision().rule()).isEqualTo("builtin:metadata.google.internal");

        assertThat(policy.evaluateQuery("nobody", "slack.com").decision().reason()).isEqualTo(Reason.UNKNOWN_CLIENT);
        assertThat(policy.evaluateQuery(null, "slack.com").decision().reason()).isEqualTo(Reason.UNKNOWN_CLIENT);
    }

    @Test
    void reportModeAnswersUnlistedNamesButNeverWithAddressesBelowTheFloor() {
        Evaluation e = policy.evaluateQuery("fetch", "attacker.example.org");
        assertThat(e.needsAddresses()).isTrue();
        Decision told = e.provisional();
        assertThat(told.allowed()).isTrue();
        assertThat(told.wouldDeny()).isTrue();
        assertThat(told.reason()).isEqualTo(Reason.HOST_NOT_ALLOWED);
        assertThat(e.permits(ip("9.9.9.9"))).isTrue();
        assertThat(e.permits(ip("10.1.2.3"))).isTrue();
        assertThat(e.permits(ip("127.0.0.1"))).isFalse();
        assertThat(e.permits(ip("169.254.169.254"))).isFalse();
        assertThat(e.permits(ip("fd00:ec2::254"))).isFalse();
        assertThat(e.permits(ip("2002:7f00:1::"))).isFalse();
        assertThat(e.permits(ip("10.20.99.1"))).isFalse();
    }

    @Test
    void permitsAndVetAgree() {
        List<String> addresses = List.of("9.9.9.9", "10.1.2.3", "127.0.0.1", "169.254.169.254", "10.20.99.1",
                "10.20.1.1", "fd12::1", "::1", "mapped:10.1.2.3", "2001:db8:20::1", "192.0.2.1", "224.0.0.1");
        for (String server : List.of("slack", "postgres", "fetch", "local-dev")) {
            for (String name : List.of("api.slack.com", "db.internal.example.com", "docs.python.org",
                    "dev.example.net", "unlisted.example.com")) {
                for (int port : List.of(443, 5432, 8080)) {
                    Evaluation e = policy.evaluate(server, name, port);
                    for (String a : addresses) {
                        Decision vetted = e.vet(List.of(ip(a)));
                        assertThat(e.permits(ip(a))).as("%s %s:%d %s: %s", server, name, port, a, vetted)
                                .isEqualTo(vetted.allowed() && ip(a).equals(vetted.address()));
                    }
                }
            }
        }
    }

    @Test
    void vetNeedsAddressesAndIsIdempotentForDecidedEvaluations() {
        Evaluation e = policy.evaluate("slack", "slack.com", 443);
        assertThatThrownBy(() -> e.vet(List.of())).isInstanceOf(IllegalArgumentException.class);
        Evaluation refused = policy.evaluate("slack", "evil.example.com", 443);
        assertThat(refused.vet(List.of(ip("9.9.9.9")))).isEqualTo(refused.decision());
        Evaluation literal = policy.evaluate("local-dev", "127.0.0.1", 8080);
        assertThat(literal.needsAddresses()).isFalse();
        assertThat(literal.permits(ip("127.0.0.1"))).isTrue();
        assertThat(literal.permits(ip("127.0.0.2"))).isFalse();
    }
}
