package io.egressd.sandbox;

import static io.egressd.sandbox.DeployFiles.ROOT;
import static io.egressd.sandbox.DeployFiles.at;
import static io.egressd.sandbox.DeployFiles.list;
import static io.egressd.sandbox.DeployFiles.map;
import static io.egressd.sandbox.DeployFiles.maps;
import static io.egressd.sandbox.DeployFiles.str;
import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.config.Config;
import io.egressd.policy.Cidr;
import io.egressd.policy.Policy;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * deploy/compose: the sidecar and shared-gateway examples, read with snakeyaml (no Docker
 * engine runs here to `docker compose config` or start them). Checks what makes them a
 * sandbox: the MCP server's only network is internal, its one neighbour is egressd at a fixed
 * address that its proxy and DNS settings name, it gets only the variables it declares, the
 * allowlists are mounted read-only, and egressd (with its own config loader and the
 * repository's allowlists) recognizes the server.
 */
class ComposeFilesTest {

    @TempDir
    Path tmp;

    record Example(String name, Path dir, Map<String, Object> compose) {
        Map<String, Object> service(String name) {
            return map(at(compose, "services", name));
        }
    }

    static Example example(String name) {
        Path dir = ROOT.resolve("deploy/compose").resolve(name);
        return new Example(name, dir, map(DeployFiles.load(dir.resolve("compose.yaml"))));
    }

    /** The internal network and the address egressd has on it. */
    static String internalNetwork(Example e) {
        List<String> internal = map(at(e.compose(), "networks")).entrySet().stream()
                .filter(n -> n.getValue() != null && Boolean.TRUE.equals(map(n.getValue()).get("internal")))
                .map(Map.Entry::getKey).toList();
        assertThat(internal).as("internal networks of %s", e.name()).hasSize(1);
        return internal.get(0);
    }

    static Cidr subnet(Example e, String network) {
        List<Map<String, Object>> configs = maps(at(e.compose(), "networks", network, "ipam", "config"));
        assertThat(configs).hasSize(1);
        return Cidr.parse(str(configs.get(0), "subnet"));
    }

    static String address(Map<String, Object> service, String network) {
        return str(service, "networks", network, "ipv4_address");
    }

    Config egressdConfig(Example e) throws Exception {
        Map<String, Object> config = maps(at(e.service("egressd"), "volumes")).stream()
                .filter(v -> "/etc/egressd/egressd.yaml".equals(v.get("target"))).findFirst().orElseThrow();
        Path source = e.dir().resolve(str(config, "source")).normalize();
        return DeployFiles.loadConfig(Files.readString(source), tmp.resolve(e.name()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"sidecar", "gateway"})
    void theServerSitsOnlyOnAnInternalNetworkWhereEgressdHasAFixedAddress(String name) throws Exception {
        Example e = example(name);
        String internal = internalNetwork(e);
        Cidr subnet = subnet(e, internal);
        Map<String, Object> slack = e.service("slack");
        Map<String, Object> egressd = e.service("egressd");

        assertThat(map(at(slack, "networks")).keySet()).containsExactly(internal);
        assertThat(subnet.contains(InetAddress.getByName(address(slack, internal)))).isTrue();

        String egressdAddress = address(egressd, internal);
        assertThat(subnet.contains(InetAddress.getByName(egressdAddress))).isTrue();
        // egressd's second leg: an ordinary network, the only way out.
        List<String> others = map(at(egressd, "networks")).keySet().stream().filter(n -> !n.equals(internal))
                .toList();
        assertThat(others).hasSize(1);
        Object egress = map(at(e.compose(), "networks")).get(others.get(0));
        assertThat(egress == null ? null : map(egress).get("internal")).isNotEqualTo(true);
    }

    @ParameterizedTest
    @ValueSource(strings = {"sidecar", "gateway"})
    void theServerGetsTheProxyAndDnsOfEgressdAndOnlyTheVariablesItDeclares(String name) throws Exception {
        Example e = example(name);
        Map<String, Object> slack = e.service("slack");
        String egressd = address(e.service("egressd"), internalNetwork(e));
        Config config = egressdConfig(e);

        Map<String, Object> env = map(at(slack, "environment"));
        assertThat(env.keySet()).containsExactlyInAnyOrder("SLACK_BOT_TOKEN", "SLACK_TEAM_ID", "HTTP_PROXY",
                "HTTPS_PROXY", "NO_PROXY", "NODE_USE_ENV_PROXY");
        // Secrets pass by name from the shell or .env, required.
        assertThat(env.get("SLACK_BOT_TOKEN")).isEqualTo("${SLACK_BOT_TOKEN:?set SLACK_BOT_TOKEN}");
        assertThat(env.get("SLACK_TEAM_ID")).isEqualTo("${SLACK_TEAM_ID:?set SLACK_TEAM_ID}");
        String proxy = "http://" + egressd + ":" + config.listen().http().getPort();
        assertThat(env.get("HTTP_PROXY")).isEqualTo(proxy);
        assertThat(env.get("HTTPS_PROXY")).isEqualTo(proxy);
        assertThat(env.get("NODE_USE_ENV_PROXY")).isEqualTo("1");
        // NO_PROXY keeps loopback local and nothing else: no upstream goes around egressd.
        DeployFiles.assertNoProxyIsLoopbackOnly((String) env.get("NO_PROXY"),
                DeployFiles.allowedHosts(DeployFiles.repositoryAllowlists()));
        assertThat(slack).doesNotContainKeys("env_file", "network_mode", "extra_hosts");

        // Docker's `dns:` always asks port 53: egressd's DNS filter listens there.
        assertThat(list(at(slack, "dns"))).containsExactly(egressd);
        assertThat(config.listen().dns().getPort()).isEqualTo(53);
        assertThat(config.listen().dns().getAddress().isAnyLocalAddress()).isTrue();
        assertThat(config.listen().http().getAddress().isAnyLocalAddress()).isTrue();
        // The image's HEALTHCHECK asks 127.0.0.1:9464, and the server waits for it.
        assertThat(config.listen().admin().getPort()).isEqualTo(9464);
        assertThat(str(slack, "depends_on", "egressd", "condition")).isEqualTo("service_healthy");
    }

    @ParameterizedTest
    @ValueSource(strings = {"sidecar", "gateway"})
    void allowlistsAndConfigAreMountedReadOnlyAtThePathsTheImageReads(String name) throws Exception {
        Example e = example(name);
        List<Map<String, Object>> volumes = maps(at(e.service("egressd"), "volumes"));
        assertThat(volumes).hasSize(2);
        for (Map<String, Object> v : volumes) {
            assertThat(v).containsEntry("type", "bind").containsEntry("read_only", true);
        }
        Map<String, Object> allowlists = volumes.stream()
                .filter(v -> "/etc/egressd/allowlists".equals(v.get("target"))).findFirst().orElseThrow();
        assertThat(e.dir().resolve(str(allowlists, "source")).normalize()).isEqualTo(ROOT.resolve("allowlists"));
        assertThat(egressdConfig(e).allowlists()).isEqualTo(Path.of("/etc/egressd/allowlists"));
        assertThat(e.dir().resolve(str(e.service("egressd"), "build", "context")).normalize()).isEqualTo(ROOT);
        assertThat(ROOT.resolve(str(e.service("egressd"), "build", "dockerfile")))
                .isEqualTo(ROOT.resolve("deploy/docker/Dockerfile")).exists();
    }

    @ParameterizedTest
    @ValueSource(strings = {"sidecar", "gateway"})
    void containersRunReadOnlyWithTheFewestCapabilities(String name) {
        Example e = example(name);
        Map<String, Object> egressd = e.service("egressd");
        Map<String, Object> slack = e.service("slack");
        for (Map<String, Object> s : List.of(egressd, slack)) {
            assertThat(s).containsEntry("read_only", true);
            assertThat(list(at(s, "tmpfs"))).containsExactly("/tmp");
            assertThat(list(at(s, "cap_drop"))).containsExactly("ALL");
        }
        // The one capability: java's file capability needs it in the bounding set to bind 53.
        assertThat(list(at(egressd, "cap_add"))).containsExactly("NET_BIND_SERVICE");
        assertThat(slack).doesNotContainKey("cap_add");
        assertThat(list(at(slack, "security_opt"))).containsExactly("no-new-privileges:true");
    }

    @Test
    void theSidecarIsBoundToTheServerSoAnyAddressIsThatServer() throws Exception {
        Example e = example("sidecar");
        Config config = egressdConfig(e);
        assertThat(config.server()).isEqualTo("slack");
        Policy policy = DeployFiles.repositoryPolicy(config);
        assertThat(policy.server("slack")).isNotNull();
        InetAddress slack = InetAddress.getByName(address(e.service("slack"), internalNetwork(e)));
        assertThat(policy.identify(config.server(), null, null, slack).server()).isEqualTo("slack");
    }

    @Test
    void theGatewayRecognizesTheServerByTheAddressItsAllowlistClaims() throws Exception {
        Example e = example("gateway");
        Config config = egressdConfig(e);
        assertThat(config.server()).isNull();
        Policy policy = DeployFiles.repositoryPolicy(config);
        String internal = internalNetwork(e);
        InetAddress slack = InetAddress.getByName(address(e.service("slack"), internal));
        assertThat(policy.identify(null, null, null, slack).server()).isEqualTo("slack");
        // Any other container on the network is nobody.
        InetAddress egressd = InetAddress.getByName(address(e.service("egressd"), internal));
        assertThat(policy.identify(null, null, null, egressd).known()).isFalse();
    }

    @Test
    void theExampleServerRunsOnANodeWhoseFetchHonoursNodeUseEnvProxy() throws Exception {
        String dockerfile = Files.readString(ROOT.resolve("deploy/compose/slack-server/Dockerfile"));
        Matcher from = Pattern.compile("(?m)^FROM node:(\\d+)-alpine$").matcher(dockerfile);
        assertThat(from.find()).as(dockerfile).isTrue();
        assertThat(SandboxIT.supportsNodeUseEnvProxy("v" + from.group(1) + ".0.0")).isTrue();
        assertThat(dockerfile).contains("@modelcontextprotocol/server-slack@2025.4.25")
                .contains("ENTRYPOINT [\"mcp-server-slack\"]").contains("USER node");
        for (String name : List.of("sidecar", "gateway")) {
            Example e = example(name);
            assertThat(e.dir().resolve(str(e.service("slack"), "build")).normalize())
                    .isEqualTo(ROOT.resolve("deploy/compose/slack-server"));
        }
    }
}
