package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Loading valid allowlists: what the files say is what the policy holds. */
class AllowlistLoaderTest {

    @Test
    void loadsTheValidFixtures() throws PolicyException {
        Policy policy = AllowlistLoader.load(Fixtures.resource("allowlists-valid"), GlobalDeny.BUILT_IN);
        assertThat(policy.servers().keySet()).containsExactly("fetch", "local-dev", "postgres", "slack");
        assertThat(policy.version()).matches("[0-9a-f]{12}");
        assertThat(policy.acceptsCredentials()).isTrue();

        ServerPolicy slack = policy.server("slack");
        assertThat(slack.mode()).isEqualTo(Mode.ENFORCE);
        assertThat(slack.description()).isEqualTo("Slack MCP server (test fixture)");
        assertThat(slack.file()).isEqualTo(Fixtures.resource("allowlists-valid/slack.yaml").toString());
        assertThat(slack.clients().sources()).containsExactly(Cidr.parse("172.30.0.11/32"), Cidr.parse("fd00:30::11/128"));
        assertThat(slack.clients().proxyUser()).isEqualTo("slack");
        assertThat(HexFormat.of().formatHex(slack.clients().tokenSha256()))
                .isEqualTo("5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8");
        assertThat(slack.rules()).containsExactly(
                new AllowRule(Fixtures.rule("slack", 0), HostPattern.parse("slack.com"), null, List.of(443), false),
                new AllowRule(Fixtures.rule("slack", 1), new HostPattern("slack.com", true), null, List.of(443), false),
                new AllowRule(Fixtures.rule("slack", 2), HostPattern.parse("files.slack-edge.com"), null,
                        List.of(443, 8443), false));

        ServerPolicy postgres = policy.server("postgres");
        assertThat(postgres.clients().proxyUser()).isNull();
        assertThat(postgres.rules()).containsExactly(
                new AllowRule(Fixtures.rule("postgres", 0), HostPattern.parse("db.internal.example.com"), null,
                        List.of(5432), true),
                new AllowRule(Fixtures.rule("postgres", 1), null, Cidr.parse("10.20.0.0/16"), List.of(5432), false),
                new AllowRule(Fixtures.rule("postgres", 2), null, Cidr.parse("2001:db8:20::/48"), List.of(5432),
                        false));

        assertThat(policy.server("fetch").mode()).isEqualTo(Mode.REPORT);
        assertThat(policy.server("fetch").rules().get(1).ports()).containsExactly(443, 80);
        assertThat(policy.server("local-dev").clients()).isEqualTo(Clients.NONE);
    }

    @Test
    void theVersionChangesWithTheContent(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), "server: slack\nallow:\n  - host: slack.com\n");
        String v1 = AllowlistLoader.load(dir, GlobalDeny.BUILT_IN).version();
        assertThat(AllowlistLoader.load(dir, GlobalDeny.BUILT_IN).version()).isEqualTo(v1);
        Files.writeString(dir.resolve("slack.yaml"), "server: slack\nallow:\n  - host: api.slack.com\n");
        assertThat(AllowlistLoader.load(dir, GlobalDeny.BUILT_IN).version()).isNotEqualTo(v1);
    }

    @Test
    void aServerWithNoRulesLoadsAndReachesNothing(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("filesystem.yaml"), "server: filesystem\nallow: []\n");
        Files.writeString(dir.resolve("bare.yaml"), "server: bare\n");
        Policy policy = AllowlistLoader.load(dir, GlobalDeny.BUILT_IN);
        NameResolver never = name -> {
            throw new AssertionError("no lookup for a server with no rules");
        };
        assertThat(policy.decide("filesystem", "example.com", 443, never).reason()).isEqualTo(Reason.HOST_NOT_ALLOWED);
        assertThat(policy.decide("bare", "192.0.2.1", 443, never).reason()).isEqualTo(Reason.IP_LITERAL_NOT_ALLOWED);
    }

    @Test
    void anAllowlistPassedAsAFileLoadsWithItsDirectoryInRuleIds() throws Exception {
        Path file = Fixtures.resource("allowlists-valid/slack.yaml");
        Policy policy = AllowlistLoader.load(List.of(file), GlobalDeny.BUILT_IN);
        assertThat(policy.servers().keySet()).containsExactly("slack");
        assertThat(policy.server("slack").rules().get(0).id()).isEqualTo("allowlists-valid/slack.yaml#allow[0]");
    }

    @Test
    void theShippedAllowlistsLoad() {
        String root = System.getProperty("egressd.repo.root");
        Path allowlists = (root == null ? Path.of("..") : Path.of(root)).resolve("allowlists");
        assertThat(allowlists).isDirectory();
        assertThat(AllowlistLoader.check(List.of(allowlists))).isEmpty();
    }
}
