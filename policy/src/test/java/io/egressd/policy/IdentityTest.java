package io.egressd.policy;

import static io.egressd.policy.Fixtures.ip;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Step 1, who is asking (design.md 5.1). allowlists-valid/: slack has sources 172.30.0.11/32
 * and fd00:30::11/128 and proxy user slack (password "password"); postgres has source
 * 172.30.0.12/32; fetch has proxy user fetch (password "secret"); local-dev has no clients.
 */
class IdentityTest {

    private static final InetAddress SLACK_SOURCE = ip("172.30.0.11");
    private static final InetAddress POSTGRES_SOURCE = ip("172.30.0.12");
    private static final InetAddress STRANGER = ip("172.30.0.13");

    private static Policy policy;

    @BeforeAll
    static void load() {
        policy = Fixtures.validPolicy();
    }

    private static void assertIdentified(Identity identity, String server) {
        assertThat(identity.known()).isTrue();
        assertThat(identity.server()).isEqualTo(server);
        assertThat(identity.failure()).isNull();
        assertThat(identity.challenge()).isFalse();
    }

    private static void assertFailed(Identity identity, Reason failure, boolean challenge) {
        assertThat(identity.known()).isFalse();
        assertThat(identity.server()).isNull();
        assertThat(identity.failure()).isEqualTo(failure);
        assertThat(identity.challenge()).as("challenge (407)").isEqualTo(challenge);
    }

    @Test
    void aListenerBoundToAServerIsThatServerWhateverElseTheClientSends() {
        assertIdentified(policy.identify("postgres", null, null, null), "postgres");
        assertIdentified(policy.identify("postgres", null, null, SLACK_SOURCE), "postgres");
        assertIdentified(policy.identify("postgres", "slack", "password", SLACK_SOURCE), "postgres");
        assertIdentified(policy.identify("local-dev", "slack", "wrong", STRANGER), "local-dev");
    }

    @Test
    void aListenerBoundToAServerThatIsNotLoadedIdentifiesNobody() {
        assertFailed(policy.identify("nobody", null, null, SLACK_SOURCE), Reason.UNKNOWN_CLIENT, false);
        assertFailed(policy.identify("nobody", "slack", "password", null), Reason.UNKNOWN_CLIENT, false);
    }

    @Test
    void goodCredentialsIdentifyTheirServerFromAnywhere() {
        assertIdentified(policy.identify(null, "slack", "password", null), "slack");
        assertIdentified(policy.identify(null, "slack", "password", STRANGER), "slack");
        // Credentials win over a source range that names another server.
        assertIdentified(policy.identify(null, "fetch", "secret", SLACK_SOURCE), "fetch");
        assertIdentified(policy.identify(null, "slack", "password", POSTGRES_SOURCE), "slack");
    }

    @Test
    void badCredentialsAreRefusedWithAChallengeAndNeverFallBackToTheSource() {
        assertFailed(policy.identify(null, "slack", "wrong", null), Reason.BAD_CREDENTIALS, true);
        assertFailed(policy.identify(null, "slack", "wrong", SLACK_SOURCE), Reason.BAD_CREDENTIALS, true);
        assertFailed(policy.identify(null, "slack", "", SLACK_SOURCE), Reason.BAD_CREDENTIALS, true);
        assertFailed(policy.identify(null, "slack", null, SLACK_SOURCE), Reason.BAD_CREDENTIALS, true);
        assertFailed(policy.identify(null, "slack", "password ", null), Reason.BAD_CREDENTIALS, true);
        assertFailed(policy.identify(null, "slack", "PASSWORD", null), Reason.BAD_CREDENTIALS, true);
        // Another server's password does not open this one.
        assertFailed(policy.identify(null, "slack", "secret", null), Reason.BAD_CREDENTIALS, true);
        assertFailed(policy.identify(null, "fetch", "password", null), Reason.BAD_CREDENTIALS, true);
        // The hash itself is not the password.
        assertFailed(policy.identify(null, "slack",
                "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", null),
                Reason.BAD_CREDENTIALS, true);
    }

    @Test
    void anUnknownUserIsBadCredentialsNotAnUnknownClient() {
        assertFailed(policy.identify(null, "mallory", "password", null), Reason.BAD_CREDENTIALS, true);
        assertFailed(policy.identify(null, "mallory", "password", SLACK_SOURCE), Reason.BAD_CREDENTIALS, true);
        assertFailed(policy.identify(null, "", "", null), Reason.BAD_CREDENTIALS, true);
        // User names are exact: neither case nor the server name of a server without proxy_user helps.
        assertFailed(policy.identify(null, "SLACK", "password", null), Reason.BAD_CREDENTIALS, true);
        assertFailed(policy.identify(null, "postgres", "", POSTGRES_SOURCE), Reason.BAD_CREDENTIALS, true);
    }

    @Test
    void sourceRangesIdentifyTheirServer() {
        assertIdentified(policy.identify(null, null, null, SLACK_SOURCE), "slack");
        assertIdentified(policy.identify(null, null, null, POSTGRES_SOURCE), "postgres");
        assertIdentified(policy.identify(null, null, null, ip("fd00:30::11")), "slack");
    }

    @Test
    void aDualStackSocketsMappedAddressIsTheIpv4Client() {
        assertIdentified(policy.identify(null, null, null, Fixtures.ip("mapped:172.30.0.11")), "slack");
        // 6to4 and NAT64 addresses carrying 172.30.0.11 are other hosts: no identity borrowed.
        assertFailed(policy.identify(null, null, null, ip("2002:ac1e:b::1")), Reason.UNKNOWN_CLIENT, true);
        assertFailed(policy.identify(null, null, null, ip("64:ff9b::ac1e:b")), Reason.UNKNOWN_CLIENT, true);
    }

    @Test
    void noIdentityChallengesOnlyWhenSomeServerTakesCredentials() {
        assertFailed(policy.identify(null, null, null, STRANGER), Reason.UNKNOWN_CLIENT, true);
        assertFailed(policy.identify(null, null, null, null), Reason.UNKNOWN_CLIENT, true);
        assertFailed(policy.identify(null, null, null, ip("fd00:30::12")), Reason.UNKNOWN_CLIENT, true);

        Policy noCredentials = new Policy(List.of(policy.server("postgres"), policy.server("local-dev")),
                GlobalDeny.BUILT_IN, "v");
        assertThat(noCredentials.acceptsCredentials()).isFalse();
        assertFailed(noCredentials.identify(null, null, null, STRANGER), Reason.UNKNOWN_CLIENT, false);
        assertIdentified(noCredentials.identify(null, null, null, POSTGRES_SOURCE), "postgres");
        // Credentials sent to a gateway that takes none are still bad credentials, not ignored.
        assertFailed(noCredentials.identify(null, "postgres", "x", POSTGRES_SOURCE), Reason.BAD_CREDENTIALS, true);

        assertFailed(Policy.empty().identify(null, null, null, STRANGER), Reason.UNKNOWN_CLIENT, false);
    }

    @Test
    void aProxyUserWithoutATokenNeverAuthenticates() {
        ServerPolicy odd = new ServerPolicy("odd", "", Mode.ENFORCE, "odd.yaml",
                new Clients(List.of(), "odd", null), List.of());
        Policy p = new Policy(List.of(odd), GlobalDeny.BUILT_IN, "v");
        assertFailed(p.identify(null, "odd", "", null), Reason.BAD_CREDENTIALS, true);
        assertFailed(p.identify(null, "odd", null, null), Reason.BAD_CREDENTIALS, true);
    }

    @Test
    void theIdentifiedServerIsTheOneThatDecides() throws Exception {
        Identity who = policy.identify(null, null, null, POSTGRES_SOURCE);
        NameResolver resolver = name -> List.of(ip("10.1.2.3"));
        assertThat(policy.decide(who.server(), "db.internal.example.com", 5432, resolver).allowed()).isTrue();
        assertThat(policy.decide(policy.identify(null, null, null, SLACK_SOURCE).server(),
                "db.internal.example.com", 5432, resolver).reason()).isEqualTo(Reason.HOST_NOT_ALLOWED);
        Identity nobody = policy.identify(null, null, null, STRANGER);
        Decision refused = policy.decide(nobody.server(), "slack.com", 443, resolver);
        assertThat(refused.reason()).isEqualTo(Reason.UNKNOWN_CLIENT);
        assertThat(refused.server()).isNull();
        assertThat(refused.mode()).isNull();
    }

    @Test
    void thePolicyRefusesTwoServersClaimingOneIdentity() {
        ServerPolicy slack = policy.server("slack");
        ServerPolicy sameSource = new ServerPolicy("other", "", Mode.ENFORCE, "other.yaml",
                new Clients(List.of(Cidr.parse("172.30.0.0/24")), null, null), List.of());
        ServerPolicy sameUser = new ServerPolicy("other", "", Mode.ENFORCE, "other.yaml",
                new Clients(List.of(), "slack", new byte[32]), List.of());
        assertThatThrownBy(() -> new Policy(List.of(slack, sameSource), GlobalDeny.BUILT_IN, "v"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlaps");
        assertThatThrownBy(() -> new Policy(List.of(slack, sameUser), GlobalDeny.BUILT_IN, "v"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("proxy_user slack");
        assertThatThrownBy(() -> new Policy(List.of(slack, slack), GlobalDeny.BUILT_IN, "v"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("two allowlists");
    }
}
