package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The DNS-learned path for IP-literal destinations: an address counts as the allowed name
 * it was answered for, for the server that asked, within the answer's TTL, and never more
 * than a CONNECT to that name would be allowed.
 */
class LearnedAddressesTest {

    private final AtomicLong nanos = new AtomicLong(5_000_000_000L);
    private final LearnedAddresses learned = new LearnedAddresses(100, nanos::get);
    private Policy policy;

    @BeforeEach
    void load(@TempDir Path dir) throws IOException, PolicyException {
        Files.writeString(dir.resolve("app.yaml"), """
                server: app
                allow:
                  - host: db.example.com          # allow[0]
                    ports: [5432]
                    private: true
                  - host: api.example.com         # allow[1]
                  - cidr: 127.0.0.0/8             # allow[2]: loopback, but only on 8080
                    ports: [8080]
                  - host: local.example.com       # allow[3]
                    ports: [9000]
                """);
        Files.writeString(dir.resolve("other.yaml"), """
                server: other
                allow:
                  - host: db.example.com
                    ports: [5432]
                    private: true
                """);
        Files.writeString(dir.resolve("watch.yaml"), """
                server: watch
                mode: report
                allow:
                  - host: db.example.com
                    ports: [5432]
                    private: true
                """);
        policy = AllowlistLoader.load(dir, GlobalDeny.of(java.util.List.of(),
                java.util.List.of(Cidr.parse("10.66.0.0/16")), "egressd.yaml"));
    }

    private static Host.Ip ip(String literal) {
        return new Host.Ip(Fixtures.ip(literal));
    }

    private void advance(Duration d) {
        nanos.addAndGet(d.toNanos());
    }

    @Test
    void anAddressLearnedForAnAllowedNameIsDecidedAsThatName() {
        learned.learned("app", "db.example.com", Fixtures.ip("10.1.2.3"), 30);
        Decision d = learned.decide(policy, "app", ip("10.1.2.3"), 5432);
        assertThat(d.allowed()).isTrue();
        assertThat(d.wouldDeny()).isFalse();
        assertThat(d.host()).isEqualTo("db.example.com");
        assertThat(d.address()).isEqualTo(Fixtures.ip("10.1.2.3"));
        assertThat(d.rule()).endsWith("app.yaml#allow[0]");
    }

    @Test
    void withoutALookupTheLiteralIsRefused() {
        Decision d = learned.decide(policy, "app", ip("10.1.2.3"), 5432);
        assertThat(d.allowed()).isFalse();
        assertThat(d.reason()).isEqualTo(Reason.IP_LITERAL_NOT_ALLOWED);
        assertThat(d.host()).isEqualTo("10.1.2.3");
    }

    @Test
    void anotherServersLookupDoesNotCount() {
        learned.learned("other", "db.example.com", Fixtures.ip("10.1.2.3"), 30);
        assertThat(learned.decide(policy, "app", ip("10.1.2.3"), 5432).reason())
                .isEqualTo(Reason.IP_LITERAL_NOT_ALLOWED);
        assertThat(learned.decide(policy, "other", ip("10.1.2.3"), 5432).allowed()).isTrue();
    }

    @Test
    void theAddressExpiresWithItsTtl() {
        learned.learned("app", "db.example.com", Fixtures.ip("10.1.2.3"), 30);
        advance(Duration.ofSeconds(29));
        assertThat(learned.decide(policy, "app", ip("10.1.2.3"), 5432).allowed()).isTrue();
        advance(Duration.ofSeconds(1));
        assertThat(learned.decide(policy, "app", ip("10.1.2.3"), 5432).reason())
                .isEqualTo(Reason.IP_LITERAL_NOT_ALLOWED);
        assertThat(learned.names("app", Fixtures.ip("10.1.2.3"))).isEmpty();
        assertThat(learned.size()).isZero();
    }

    @Test
    void aZeroTtlTeachesNothing() {
        learned.learned("app", "db.example.com", Fixtures.ip("10.1.2.3"), 0);
        assertThat(learned.size()).isZero();
    }

    @Test
    void theNamesPortsStillApply() {
        learned.learned("app", "db.example.com", Fixtures.ip("10.1.2.3"), 30);
        Decision d = learned.decide(policy, "app", ip("10.1.2.3"), 6432);
        assertThat(d.allowed()).isFalse();
        assertThat(d.host()).isEqualTo("10.1.2.3");
    }

    @Test
    void theNamesAddressRulesStillApply() {
        // api.example.com has no private: true, so a private address learned for it does not pass.
        learned.learned("app", "api.example.com", Fixtures.ip("10.1.2.4"), 30);
        assertThat(learned.decide(policy, "app", ip("10.1.2.4"), 443).allowed()).isFalse();
    }

    @Test
    void aLoopbackAnswerNeverOpensMoreThanTheCidrRule() {
        // The DNS filter lets 127.0.0.7 through for local.example.com (the cidr rule covers it, on
        // 8080). A CONNECT to local.example.com:9000 is address_not_allowed, so the literal is too.
        learned.learned("app", "local.example.com", Fixtures.ip("127.0.0.7"), 30);
        Decision d = learned.decide(policy, "app", ip("127.0.0.7"), 9000);
        assertThat(d.allowed()).isFalse();
        assertThat(d.reason()).isEqualTo(Reason.PORT_NOT_ALLOWED);
        assertThat(learned.decide(policy, "app", ip("127.0.0.7"), 8080).rule()).endsWith("app.yaml#allow[2]");
    }

    @Test
    void globalDeniesAndUnknownClientsAreNotReconsidered() {
        learned.learned("app", "db.example.com", Fixtures.ip("10.66.0.1"), 30);
        assertThat(learned.decide(policy, "app", ip("10.66.0.1"), 5432).reason())
                .isEqualTo(Reason.DENIED_BY_GLOBAL_RULE);
        learned.learned("ghost", "db.example.com", Fixtures.ip("10.1.2.3"), 30);
        assertThat(learned.decide(policy, "ghost", ip("10.1.2.3"), 5432).reason())
                .isEqualTo(Reason.UNKNOWN_CLIENT);
    }

    @Test
    void reportModePrefersTheLearnedNameToAWouldDeny() {
        assertThat(learned.decide(policy, "watch", ip("10.1.2.3"), 5432).wouldDeny()).isTrue();
        learned.learned("watch", "db.example.com", Fixtures.ip("10.1.2.3"), 30);
        Decision d = learned.decide(policy, "watch", ip("10.1.2.3"), 5432);
        assertThat(d.allowed()).isTrue();
        assertThat(d.wouldDeny()).isFalse();
        assertThat(d.host()).isEqualTo("db.example.com");
    }

    @Test
    void theStoreIsBounded() {
        LearnedAddresses small = new LearnedAddresses(3, nanos::get);
        for (int i = 1; i <= 10; i++) {
            small.learned("app", "db.example.com", Fixtures.ip("10.1.2." + i), 30);
        }
        assertThat(small.size()).isEqualTo(3);
        assertThat(small.names("app", Fixtures.ip("10.1.2.1"))).isEmpty();
        assertThat(small.names("app", Fixtures.ip("10.1.2.10"))).containsExactly("db.example.com");
        InetAddress shared = Fixtures.ip("10.1.2.10");
        for (int i = 0; i < 10; i++) {
            small.learned("app", "n" + i + ".example.com", shared, 30);
        }
        assertThat(small.names("app", shared)).containsExactly("n9.example.com", "n8.example.com",
                "n7.example.com", "n6.example.com");
    }
}
