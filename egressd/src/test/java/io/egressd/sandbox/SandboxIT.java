package io.egressd.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.sandbox.Netns.Lines;
import io.egressd.sandbox.Netns.Result;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * Issue 6, point 5: a sandboxed client, in a network namespace of its own whose only neighbour
 * is egressd, reaches exactly what its allowlist says, and nothing else, on this machine, with
 * real network isolation.
 *
 * <pre>
 *   namespace egsb&lt;pid&gt;-net        namespace egsb&lt;pid&gt;-egd              namespace egsb&lt;pid&gt;-mcp
 *   ("the internet")               (egressd)                          (the sandboxed MCP server)
 *   Upstream: http :80            bin/egressd serve                   curl, dig, node
 *             https :443          proxy 10.231.0.5:3128               no default route
 *             dns udp :53         dns   10.231.0.5:53                 resolv.conf -> 10.231.0.5
 *   eth0 10.231.0.1/30 &lt;--veth--&gt; up0 10.231.0.2/30
 *                                 down0 10.231.0.5/30 &lt;--veth--&gt; eth0 10.231.0.6/30
 *                                 ip_forward = 0
 *                                 resolv.conf -> 10.231.0.1
 * </pre>
 *
 * <p>The addresses exist only inside these three namespaces, which the test creates and
 * removes itself; no namespace has a default route, so no packet leaves the machine. egressd
 * resolves names (proxy and DNS front alike) through the {@code resolv.conf} that
 * {@code ip netns exec} bind-mounts from {@code /etc/netns/<namespace>/}, which names the
 * upstream DNS server in "the internet". The upstream prints every DNS question and HTTP request
 * it receives, so the test can tell what never reached it.
 *
 * <p>Needs root (network namespaces), iproute2, curl, dig (dnsutils) and node. With
 * {@code CI=true} it must run and fails when it cannot; elsewhere, without root, it is skipped
 * with a message that says how to run it.
 */
class SandboxIT {

    static final Path ROOT = Path.of(System.getProperty("egressd.repo.root", ".")).toAbsolutePath();

    static final String INTERNET = "10.231.0.1";
    static final String EGRESSD_UP = "10.231.0.2";
    static final String EGRESSD = "10.231.0.5";
    static final String MCP = "10.231.0.6";
    static final String PROXY = "http://" + EGRESSD + ":3128";

    static final String ALLOWED = "api.upstream.example";
    static final String DENIED = "exfil.attacker.example";

    static final String HOW_TO_RUN = "the sandbox test creates network namespaces and veth pairs, which needs root."
            + " Run it as root: sudo mvn -B verify -pl egressd -am -Dtest=NONE"
            + " -Dsurefire.failIfNoSpecifiedTests=false -Dit.test=SandboxIT"
            + " (needs iproute2, curl, dnsutils and nodejs; CI runs it as root with CI=true).";

    @TempDir
    static Path dir;

    static Netns netns;
    static Thread cleanupHook;
    static String mcpNs;
    static String egressdNs;
    static Process egressd;
    static final Lines audit = new Lines();
    static final Lines egressdLog = new Lines();
    static final Lines upstream = new Lines();
    static final Lines upstreamErr = new Lines();
    static Path caPem;
    static Path fetchScript;
    static String path;

    @BeforeAll
    static void buildTheSandbox() throws Exception {
        CiGuard.requireRoot(HOW_TO_RUN);
        path = CiGuard.toolPath("iproute2, curl, dnsutils, nodejs", HOW_TO_RUN, "ip", "curl", "dig", "node");

        List<String> leftovers = Netns.removeLeftovers();
        if (!leftovers.isEmpty()) {
            System.err.println("SandboxIT: removed namespaces of an earlier run: " + leftovers);
        }
        netns = new Netns();
        cleanupHook = new Thread(netns::close, "sandbox-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanupHook);

        String net = netns.add("net");
        egressdNs = netns.add("egd");
        mcpNs = netns.add("mcp");
        netns.link(egressdNs, "up0", EGRESSD_UP + "/30", net, "eth0", INTERNET + "/30");
        netns.link(egressdNs, "down0", EGRESSD + "/30", mcpNs, "eth0", MCP + "/30");
        Netns.check(Netns.run(Duration.ofSeconds(10), "ip", "netns", "exec", egressdNs,
                "sysctl", "-q", "-w", "net.ipv4.ip_forward=0"));
        netns.resolvConf(egressdNs, INTERNET);
        netns.resolvConf(mcpNs, EGRESSD);

        // A certificate for the allowed host; curl and node trust it through --cacert and
        // NODE_EXTRA_CA_CERTS.
        Path keystore = dir.resolve("upstream.p12");
        caPem = dir.resolve("upstream.pem");
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        Netns.check(Netns.run(Duration.ofSeconds(30), keytool, "-genkeypair", "-alias", "upstream", "-keyalg", "EC",
                "-groupname", "secp256r1", "-dname", "CN=" + ALLOWED, "-ext", "SAN=dns:" + ALLOWED, "-validity", "2",
                "-keystore", keystore.toString(), "-storetype", "PKCS12", "-storepass", "changeit",
                "-keypass", "changeit"));
        Netns.check(Netns.run(Duration.ofSeconds(30), keytool, "-exportcert", "-rfc", "-alias", "upstream",
                "-keystore", keystore.toString(), "-storepass", "changeit", "-file", caPem.toString()));

        // "The internet": both names exist there, so anything that reaches the upstream resolver
        // or server for the denied name would get an answer and show up in its log.
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        netns.start(net, List.of(java, "-XX:+UseSerialGC", "-Xmx64m", "-XX:TieredStopAtLevel=1", "-cp", classpath,
                Upstream.class.getName(), INTERNET, keystore.toString(), "changeit",
                ALLOWED + "=" + INTERNET, DENIED + "=" + INTERNET), upstream, upstreamErr);

        Path allowlists = Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(allowlists.resolve("sandboxed.yaml"), """
                server: sandboxed
                description: the sandboxed client of SandboxIT, recognized by its address
                clients:
                  sources: [%s/32]
                allow:
                  - host: %s
                    ports: [443, 80]
                    private: true      # "the internet" of this test lives in 10.231.0.0/30
                """.formatted(MCP, ALLOWED));
        Path config = dir.resolve("egressd.yaml");
        Files.writeString(config, """
                allowlists: allowlists
                listen:
                  http: %1$s:3128
                  dns: %1$s:53
                  admin: %1$s:9464
                dns:
                  upstreams: [system]
                  timeout: 2s
                audit:
                  output: stdout
                limits:
                  connect_timeout: 3s
                """.formatted(EGRESSD));
        egressd = netns.start(egressdNs, List.of(ROOT.resolve("bin/egressd").toString(), "serve", "--config",
                config.toString()), audit, egressdLog);

        fetchScript = dir.resolve("fetch.mjs");
        Files.writeString(fetchScript, """
                // Plain fetch(), as an MCP server written for Node.js calls it: no agent, no dispatcher.
                const url = process.argv[2];
                try {
                  const response = await fetch(url, { signal: AbortSignal.timeout(10000) });
                  console.log(`STATUS ${response.status} ${(await response.text()).trim()}`);
                } catch (e) {
                  const cause = e.cause ?? e;
                  console.log(`FAILED ${cause.code ?? cause.name}: ${cause.message}`);
                  process.exitCode = 1;
                }
                """);

        String ready = upstream.await(l -> l.startsWith("upstream ready on " + INTERNET), Duration.ofSeconds(30));
        assertThat(ready).as("upstream ready line; stderr:\n%s", upstreamErr).isNotNull();
        String listening = egressdLog.await(l -> l.startsWith("egressd: listening: "), Duration.ofSeconds(30));
        assertThat(listening).as("egressd ready line; stderr:\n%s", egressdLog)
                .startsWith("egressd: listening: proxy on " + EGRESSD + ":3128, dns on " + EGRESSD
                        + ":53 (udp+tcp), admin on " + EGRESSD + ":9464; policy ");
    }

    @AfterAll
    static void removeTheSandbox() {
        if (netns == null) {
            return;
        }
        List<String> created = netns.namespaces();
        netns.close();
        Runtime.getRuntime().removeShutdownHook(cleanupHook);
        String left = Netns.run(Duration.ofSeconds(10), "ip", "netns", "list").out();
        for (String ns : created) {
            assertThat(left).as("namespaces after cleanup").doesNotContain(ns);
            assertThat(Path.of("/etc/netns", ns)).doesNotExist();
        }
    }

    /** The sandboxed server's environment: the proxy variables and nothing it did not declare. */
    private static Map<String, String> mcpEnv(String... extra) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PATH", path);
        env.put("HOME", dir.toString());
        env.put("HTTP_PROXY", PROXY);
        env.put("HTTPS_PROXY", PROXY);
        env.put("http_proxy", PROXY);   // curl reads only the lower-case name for http://
        env.put("NO_PROXY", "localhost,127.0.0.1");
        for (int i = 0; i < extra.length; i += 2) {
            env.put(extra[i], extra[i + 1]);
        }
        return env;
    }

    private static Result inMcp(Map<String, String> env, String... command) {
        return netns.exec(mcpNs, env, Duration.ofSeconds(30), command);
    }

    private static Result curl(String... args) {
        List<String> command = new ArrayList<>(List.of("curl", "-q", "-sS", "--max-time", "10", "--cacert",
                caPem.toString()));
        command.addAll(List.of(args));
        return inMcp(mcpEnv(), command.toArray(String[]::new));
    }

    private static Result dig(String server, String name) {
        return inMcp(mcpEnv(), "dig", "@" + server, "+time=2", "+tries=1", name, "A");
    }

    /** The upstream's log lines that show something reached "the internet" about {@code name}. */
    private static List<String> upstreamLinesAbout(String name) {
        return upstream.all().stream().filter(l -> l.contains(" " + name + " ")).toList();
    }

    private static long upstreamRequests(String scheme) {
        return upstream.all().stream().filter(l -> l.startsWith(scheme + " ")).count();
    }

    /** The first audit event (a JSON line on egressd's stdout) that matches, waiting up to 10 s. */
    @SuppressWarnings("unchecked")
    private static Map<String, Object> awaitAudit(Predicate<Map<String, Object>> match) throws InterruptedException {
        Yaml json = new Yaml();
        String line = audit.await(l -> l.startsWith("{") && match.test((Map<String, Object>) json.load(l)),
                Duration.ofSeconds(10));
        assertThat(line).as("audit event on egressd's stdout; it printed:\n%s", audit).isNotNull();
        return (Map<String, Object>) json.load(line);
    }

    @Test
    void anAllowedHttpsHostIsReachedThroughTheProxy() throws Exception {
        Result https = curl("https://" + ALLOWED + "/");
        assertThat(https.exit()).as("%s", https).isZero();
        assertThat(https.out()).isEqualTo("hello from upstream over https\n");
        // The upstream saw egressd's address, never the sandboxed client's.
        assertThat(upstream.await(l -> l.equals("https GET " + ALLOWED + " / from " + EGRESSD_UP),
                Duration.ofSeconds(5))).isNotNull();
        Map<String, Object> closed = awaitAudit(e -> "egress.closed".equals(e.get("event"))
                && ALLOWED.equals(e.get("host")) && "connect".equals(e.get("protocol")));
        assertThat(closed).containsEntry("server", "sandboxed").containsEntry("port", 443)
                .containsEntry("address", INTERNET);
        assertThat((String) closed.get("client")).startsWith(MCP + ":");

        Result http = curl("http://" + ALLOWED + "/");
        assertThat(http.exit()).as("%s", http).isZero();
        assertThat(http.out()).isEqualTo("hello from upstream over http\n");
        assertThat(upstream.await(l -> l.equals("http GET " + ALLOWED + " / from " + EGRESSD_UP),
                Duration.ofSeconds(5))).isNotNull();
    }

    @Test
    void aDeniedHostGets403AndTheDenialIsOnTheAuditOutput() throws Exception {
        Result r = curl("-i", "https://" + DENIED + "/");
        assertThat(r.exit()).as("curl: CONNECT tunnel failed; %s", r).isEqualTo(56);
        assertThat(r.out()).startsWith("HTTP/1.1 403 Forbidden").contains("X-Egressd-Denied: host_not_allowed");

        Map<String, Object> denied = awaitAudit(e -> "egress.denied".equals(e.get("event"))
                && DENIED.equals(e.get("host")));
        assertThat(denied).containsEntry("reason", "host_not_allowed").containsEntry("server", "sandboxed")
                .containsEntry("protocol", "connect").containsEntry("port", 443);
        assertThat((String) denied.get("client")).startsWith(MCP + ":");
        // Refused before any lookup or connection: "the internet" never heard of the name.
        assertThat(upstreamLinesAbout(DENIED)).isEmpty();
    }

    @Test
    void directConnectionsFromTheSandboxHaveNoRoute() {
        Result routes = Netns.check(netns.exec(mcpNs, Map.of("PATH", path), Duration.ofSeconds(10),
                "ip", "route", "show"));
        assertThat(routes.out().strip()).isEqualTo("10.231.0.4/30 dev eth0 proto kernel scope link src " + MCP);
        Result route = netns.exec(mcpNs, Map.of("PATH", path), Duration.ofSeconds(10), "ip", "route", "get", INTERNET);
        assertThat(route.exit()).isNotZero();
        assertThat(route.err()).contains("Network is unreachable");

        long before = upstreamRequests("https");
        Result byAddress = curl("--noproxy", "*", "https://" + INTERNET + "/");
        assertThat(byAddress.exit()).as("curl: couldn't connect; %s", byAddress).isEqualTo(7);
        // By name: egressd's DNS answers it (the name is allowed), and still there is no way there.
        Result byName = curl("--noproxy", "*", "https://" + ALLOWED + "/");
        assertThat(byName.exit()).as("curl: couldn't connect; %s", byName).isEqualTo(7);
        assertThat(byName.err()).contains("Failed to connect to " + ALLOWED + " port 443");
        assertThat(upstreamRequests("https")).isEqualTo(before);

        // egressd does not route between its legs either.
        Result forward = Netns.check(netns.exec(egressdNs, Map.of("PATH", path), Duration.ofSeconds(10),
                "cat", "/proc/sys/net/ipv4/ip_forward"));
        assertThat(forward.out().strip()).isEqualTo("0");
    }

    @Test
    void dnsThroughEgressdAnswersTheAllowedNameAndNeverAsksUpstreamForTheDeniedOne() throws Exception {
        Result allowed = dig(EGRESSD, ALLOWED);
        assertThat(allowed.exit()).as("%s", allowed).isZero();
        assertThat(allowed.out()).contains("status: NOERROR");
        assertThat(allowed.out()).containsPattern(Pattern.quote(ALLOWED) + "\\.\\s+\\d+\\s+IN\\s+A\\s+"
                + Pattern.quote(INTERNET));
        assertThat(upstream.all()).anyMatch(l -> l.equals("dns " + ALLOWED + " A from " + EGRESSD_UP));

        Result denied = dig(EGRESSD, DENIED);
        assertThat(denied.exit()).as("%s", denied).isZero();
        assertThat(denied.out()).contains("status: NXDOMAIN");
        Map<String, Object> event = awaitAudit(e -> "dns.denied".equals(e.get("event"))
                && DENIED.equals(e.get("qname")));
        assertThat(event).containsEntry("server", "sandboxed").containsEntry("rcode", "NXDOMAIN")
                .containsEntry("qtype", "A");

        // The upstream resolver itself is out of reach from the sandbox.
        Result direct = dig(INTERNET, ALLOWED);
        assertThat(direct.exit()).as("dig: no server could be reached; %s", direct).isEqualTo(9);

        assertThat(upstreamLinesAbout(DENIED)).as("upstream log:\n%s", upstream).isEmpty();
        assertThat(upstream.all()).noneMatch(l -> l.contains(" from " + MCP));
    }

    @Test
    void nodeFetchWithoutNodeUseEnvProxyFailsClosed() {
        long before = upstreamRequests("https");
        Result r = inMcp(mcpEnv("NODE_EXTRA_CA_CERTS", caPem.toString()), "node", fetchScript.toString(),
                "https://" + ALLOWED + "/");
        // fetch() ignores HTTPS_PROXY: it resolves the name (through egressd's DNS) and dials it
        // directly, and the sandbox has no route there.
        assertThat(r.exit()).as("%s", r).isEqualTo(1);
        assertThat(r.out()).startsWith("FAILED ENETUNREACH: connect ENETUNREACH " + INTERNET + ":443");
        assertThat(upstreamRequests("https")).isEqualTo(before);
    }

    @Test
    void nodeFetchWithNodeUseEnvProxyGoesThroughTheProxyWhereNodeSupportsIt() throws Exception {
        String version = Netns.check(inMcp(mcpEnv(), "node", "--version")).out().strip();
        long before = upstreamRequests("https");
        Result r = inMcp(mcpEnv("NODE_EXTRA_CA_CERTS", caPem.toString(), "NODE_USE_ENV_PROXY", "1"), "node",
                fetchScript.toString(), "https://" + ALLOWED + "/");
        if (supportsNodeUseEnvProxy(version)) {
            assertThat(r.exit()).as("node %s: %s", version, r).isZero();
            assertThat(r.out()).isEqualTo("STATUS 200 hello from upstream over https\n");
            assertThat(upstreamRequests("https")).isEqualTo(before + 1);
            assertThat(upstream.all().stream().filter(l -> l.startsWith("https ")).reduce((a, b) -> b))
                    .contains("https GET " + ALLOWED + " / from " + EGRESSD_UP);
        } else {
            // This Node.js predates NODE_USE_ENV_PROXY (fetch honours it from 22.21 and 24.0): the
            // variable changes nothing, and the server still fails closed (docs/deploy.md).
            System.err.println("SandboxIT: node " + version + " ignores NODE_USE_ENV_PROXY=1: " + r.out().strip());
            assertThat(r.exit()).as("node %s: %s", version, r).isEqualTo(1);
            assertThat(r.out()).startsWith("FAILED ENETUNREACH: connect ENETUNREACH " + INTERNET + ":443");
            assertThat(upstreamRequests("https")).isEqualTo(before);
        }
    }

    /** Node.js releases whose fetch() follows HTTP(S)_PROXY under NODE_USE_ENV_PROXY=1. */
    static boolean supportsNodeUseEnvProxy(String version) {
        Matcher m = Pattern.compile("v(\\d+)\\.(\\d+)\\..*").matcher(version);
        assertThat(m.matches()).as("node --version: %s", version).isTrue();
        int major = Integer.parseInt(m.group(1));
        int minor = Integer.parseInt(m.group(2));
        return major >= 24 || (major == 22 && minor >= 21);
    }
}
