package io.egressd.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.config.Config;
import io.egressd.config.ConfigLoader;
import io.egressd.policy.AllowlistLoader;
import io.egressd.policy.Policy;
import io.egressd.policy.PolicyException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import io.egressd.policy.Cidr;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;

/** Reading the files under deploy/ (YAML as plain maps and lists) for the tests that check them. */
final class DeployFiles {

    static final Path ROOT = Path.of(System.getProperty("egressd.repo.root", ".")).toAbsolutePath().normalize();

    private DeployFiles() {
    }

    static Yaml yaml() {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        return new Yaml(options);
    }

    static Object load(Path file) {
        try {
            return yaml().load(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<Map<String, Object>> loadAll(String text) {
        List<Map<String, Object>> docs = new ArrayList<>();
        for (Object doc : yaml().loadAll(text)) {
            if (doc != null) {
                docs.add(map(doc));
            }
        }
        return docs;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object o) {
        assertThat(o).as("a YAML mapping").isInstanceOf(Map.class);
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object o) {
        assertThat(o).as("a YAML sequence").isInstanceOf(List.class);
        return (List<Object>) o;
    }

    static List<Map<String, Object>> maps(Object o) {
        return list(o).stream().map(DeployFiles::map).toList();
    }

    /** The value at a path of mapping keys; fails naming the path when a step is missing. */
    static Object at(Object root, String... keys) {
        Object o = root;
        StringBuilder path = new StringBuilder();
        for (String key : keys) {
            path.append('.').append(key);
            assertThat(map(o)).as("key %s", path).containsKey(key);
            o = map(o).get(key);
        }
        return o;
    }

    static String str(Object root, String... keys) {
        Object o = at(root, keys);
        assertThat(o).as("string at %s", String.join(".", keys)).isInstanceOf(String.class);
        return (String) o;
    }

    /** The repository's allowlist files, by file name. */
    static Map<String, String> repositoryAllowlists() throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> files = Files.list(ROOT.resolve("allowlists"))) {
            for (Path f : files.filter(p -> p.getFileName().toString().endsWith(".yaml")).toList()) {
                out.put(f.getFileName().toString(), Files.readString(f));
            }
        }
        return out;
    }

    /** egressd's own loader applied to a config file's text, as `egressd serve --config` reads it. */
    static Config loadConfig(String text, Path dir) throws IOException, PolicyException {
        Path file = Files.createDirectories(dir).resolve("egressd.yaml");
        Files.writeString(file, text);
        return ConfigLoader.load(file);
    }

    /** The policy of the repository's allowlists under a config's global deny rules. */
    static Policy repositoryPolicy(Config config) throws PolicyException {
        return AllowlistLoader.load(ROOT.resolve("allowlists"), config.deny());
    }

    /** The hosts of every allowlist's {@code allow} rules (a wildcard's {@code *.} dropped): the upstreams. */
    static Set<String> allowedHosts(Map<String, String> allowlists) {
        Set<String> hosts = new TreeSet<>();
        for (String text : allowlists.values()) {
            Object allow = map(yaml().load(text)).get("allow");
            for (Map<String, Object> rule : allow == null ? List.<Map<String, Object>>of() : maps(allow)) {
                if (rule.get("host") instanceof String host) {
                    hosts.add(host.replaceFirst("^\\*\\.", "").toLowerCase(Locale.ROOT));
                }
            }
        }
        return hosts;
    }

    /**
     * A sandboxed server's NO_PROXY: what it names is reached directly, and in a sandbox the only
     * direct way that works is the server's own loopback. So it must keep loopback off the proxy
     * (egressd would refuse loopback anyway: the server's local helpers would break) and name
     * nothing else: no "*", no upstream host or a domain above one (those would go around egressd
     * and its audit, and fail closed only where the sandbox holds), no other address or domain.
     */
    static void assertNoProxyIsLoopbackOnly(String noProxy, Set<String> upstreams) {
        assertThat(noProxy).as("NO_PROXY").isNotNull();
        List<String> entries = Arrays.stream(noProxy.split(",")).map(String::strip).toList();
        assertThat(entries).as("NO_PROXY %s", noProxy).doesNotContain("", "*").contains("localhost", "127.0.0.1");
        for (String entry : entries) {
            String domain = entry.replaceFirst("^\\*?\\.", "").toLowerCase(Locale.ROOT);
            for (String host : upstreams) {
                assertThat(host.equals(domain) || host.endsWith("." + domain))
                        .as("NO_PROXY entry %s exempts the upstream %s from the proxy", entry, host).isFalse();
            }
            assertThat(isLoopback(entry)).as("NO_PROXY entry %s is not loopback", entry).isTrue();
        }
    }

    private static boolean isLoopback(String entry) {
        if (entry.equals("localhost")) {
            return true;
        }
        String address = entry.replaceAll("^\\[|\\]$", "");
        if (!address.matches("[0-9.]+(/\\d+)?|[0-9a-fA-F:]+(/\\d+)?")) {
            return false;   // a name: only localhost is loopback for certain
        }
        Cidr range = Cidr.parse(address);
        return Cidr.parse("127.0.0.0/8").contains(range.network()) && range.prefixLength() >= 8
                || Cidr.parse("::1/128").contains(range.network()) && range.prefixLength() == 128;
    }
}
