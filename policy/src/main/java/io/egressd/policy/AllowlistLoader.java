package io.egressd.policy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.yaml.snakeyaml.nodes.Node;

/**
 * Loads allowlist files ({@code allowlists/<server>.yaml}) into a {@link Policy}, checking
 * everything design.md section 4 asks and reporting every problem at once, each with its
 * file, line and column. A policy is built only from a set of files with no errors at all.
 */
public final class AllowlistLoader {

    private static final Set<String> TOP_KEYS = keys("server", "description", "mode", "clients", "allow",
            "forwards");
    private static final Set<String> CLIENT_KEYS = keys("sources", "proxy_user", "token_sha256");
    private static final Set<String> RULE_KEYS = keys("host", "cidr", "ports", "private");
    private static final Set<String> FORWARD_KEYS = keys("listen", "to");
    private static final Pattern SERVER_NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");
    private static final Pattern PROXY_USER = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    private static final Pattern SHA256_HEX = Pattern.compile("[0-9a-f]{64}");

    private AllowlistLoader() {
    }

    private static Set<String> keys(String... names) {
        return Collections.unmodifiableSet(new LinkedHashSet<>(List.of(names)));
    }

    /** A server parsed from one file, with the nodes that cross-file checks point at. */
    private record Parsed(ServerPolicy server, YamlFile yaml, Node serverNode, Node proxyUserNode,
                          List<Node> sourceNodes, List<Node> listenNodes) { }

    /** A forward as read, before its target is checked against the server's rules. */
    private record ForwardEntry(InetSocketAddress listen, Destination to, Node listenNode, Node toNode) { }

    /** Loads every {@code *.yaml} in {@code directory}. */
    public static Policy load(Path directory, GlobalDeny deny) throws PolicyException {
        return load(List.of(directory), deny);
    }

    /**
     * Loads allowlists from files and directories (a directory contributes its {@code *.yaml}
     * files; names starting with '.' are skipped, as Kubernetes ConfigMap mounts need).
     */
    public static Policy load(List<Path> paths, GlobalDeny deny) throws PolicyException {
        List<ValidationError> errors = new ArrayList<>();
        List<Path> files = collect(paths, errors);
        List<Parsed> parsed = new ArrayList<>();
        MessageDigest digest = sha256();
        for (Path file : files) {
            YamlFile yaml = YamlFile.of(file.toString(), errors);
            int before = errors.size();
            Node root = yaml.read(file);
            if (root != null) {
                Parsed p = parseServer(file, yaml, root);
                if (p != null && errors.size() == before) {
                    parsed.add(p);
                }
            }
            digest.update(file.getFileName().toString().getBytes(StandardCharsets.UTF_8));
            digest.update((byte) 0);
            try {
                digest.update(Files.readAllBytes(file));
            } catch (IOException e) {
                // Already reported by read().
            }
        }
        crossCheck(parsed, errors);
        if (!errors.isEmpty()) {
            Collections.sort(errors);
            throw new PolicyException(errors);
        }
        String version = HexFormat.of().formatHex(digest.digest()).substring(0, 12);
        return new Policy(parsed.stream().map(Parsed::server).toList(), deny, version);
    }

    /** Every problem in the given files and directories; empty when they would load. */
    public static List<ValidationError> check(List<Path> paths) {
        try {
            load(paths, GlobalDeny.BUILT_IN);
            return List.of();
        } catch (PolicyException e) {
            return e.errors();
        }
    }

    private static List<Path> collect(List<Path> paths, List<ValidationError> errors) {
        List<Path> files = new ArrayList<>();
        for (Path path : paths) {
            if (Files.isDirectory(path)) {
                List<Path> entries;
                try (Stream<Path> list = Files.list(path)) {
                    entries = list.sorted().toList();
                } catch (IOException e) {
                    errors.add(new ValidationError(path.toString(), 1, 1,
                            "cannot list directory: " + YamlFile.describe(e)));
                    continue;
                }
                for (Path entry : entries) {
                    String name = entry.getFileName().toString();
                    if (name.startsWith(".")) {
                        continue;
                    }
                    String misnamed = misnamed(name);
                    if (misnamed != null) {
                        errors.add(new ValidationError(entry.toString(), 1, 1, misnamed));
                    } else if (name.endsWith(".yaml")) {
                        if (Files.isRegularFile(entry)) {
                            files.add(entry);
                        } else {
                            // Never opened: reading a FIFO would block the reload (and egressd check) forever.
                            errors.add(new ValidationError(entry.toString(), 1, 1, notAFile(entry)));
                        }
                    }
                }
            } else if (Files.isRegularFile(path)) {
                String name = path.getFileName().toString();
                if (name.endsWith(".yaml")) {
                    files.add(path);
                } else if (misnamed(name) != null) {
                    errors.add(new ValidationError(path.toString(), 1, 1, misnamed(name)));
                } else {
                    errors.add(new ValidationError(path.toString(), 1, 1,
                            "an allowlist file is named <server>.yaml"));
                }
            } else if (Files.exists(path)) {
                // Never opened, like a FIFO in a directory: reading one would block.
                errors.add(new ValidationError(path.toString(), 1, 1, "not a file or directory (a pipe, socket or"
                        + " device); pass the allowlists directory or <server>.yaml files"));
            } else if (Files.isSymbolicLink(path)) {
                errors.add(new ValidationError(path.toString(), 1, 1,
                        "is a symbolic link to nothing; point it at an allowlist file or directory"));
            } else {
                errors.add(new ValidationError(path.toString(), 1, 1,
                        "no such file or directory; pass the allowlists directory or <server>.yaml files"));
            }
        }
        return files;
    }

    /**
     * Whether a directory entry is one the loader reads or reports: not hidden, and named
     * {@code .yaml} or {@code .yml} in any case. What a directory watcher must look at.
     */
    public static boolean looksLikeAllowlist(String name) {
        String lower = name.toLowerCase(Locale.ROOT);
        return !name.startsWith(".") && (lower.endsWith(".yaml") || lower.endsWith(".yml"));
    }

    /**
     * Why a name that looks like an allowlist's is not one ({@code .yml}, or {@code .yaml} in
     * another case, which the loader would otherwise skip without a word); null for {@code <name>.yaml}.
     */
    private static String misnamed(String name) {
        if (name.endsWith(".yaml") || !looksLikeAllowlist(name)) {
            return null;
        }
        String stem = name.substring(0, name.lastIndexOf('.'));
        return name.endsWith(".yml") ? "only .yaml files are loaded; rename to " + stem + ".yaml"
                : "only .yaml files are loaded, and the extension is case-sensitive; rename to " + stem + ".yaml";
    }

    /** Why a directory entry named like an allowlist cannot be read as one. */
    private static String notAFile(Path entry) {
        if (Files.isDirectory(entry)) {
            return "is a directory, not an allowlist file; an allowlist is a file <server>.yaml";
        }
        if (Files.isSymbolicLink(entry) && !Files.exists(entry)) {
            return "is a symbolic link to nothing; point it at an allowlist file or remove it";
        }
        return "is not a regular file (a pipe, socket or device); an allowlist is a file <server>.yaml";
    }

    private static Parsed parseServer(Path file, YamlFile yaml, Node root) {
        Map<String, Node> top = yaml.mapping(root, "", TOP_KEYS);
        if (top == null) {
            return null;
        }
        String fileName = file.getFileName().toString();
        String expected = fileName.substring(0, fileName.length() - ".yaml".length());
        Node serverNode = top.get("server");
        String server = null;
        if (serverNode == null) {
            yaml.error(root, "server: missing; every allowlist starts with server: " + expected);
        } else {
            server = yaml.string(serverNode, "server", expected);
            if (server != null && !SERVER_NAME.matcher(server).matches()) {
                yaml.error(serverNode, "server: \"" + server + "\" is not a server name; use lower-case letters,"
                        + " digits, '-' and '_', e.g. " + expected.toLowerCase(Locale.ROOT));
                server = null;
            } else if (server != null && !server.equals(expected)) {
                yaml.error(serverNode, "server: \"" + server + "\" must equal the file name without .yaml (\""
                        + expected + "\"); rename the file to " + server + ".yaml or write server: " + expected);
            }
        }
        String description = top.containsKey("description")
                ? yaml.string(top.get("description"), "description", "\"Slack MCP server\"") : "";
        Mode mode = Mode.ENFORCE;
        if (top.containsKey("mode")) {
            String m = yaml.string(top.get("mode"), "mode", "enforce");
            if ("report".equals(m)) {
                mode = Mode.REPORT;
            } else if (m != null && !"enforce".equals(m)) {
                yaml.error(top.get("mode"), "mode: \"" + m + "\" is not a mode; write enforce or report");
            }
        }
        Node proxyUserNode = null;
        List<Node> sourceNodes = new ArrayList<>();
        Clients clients = Clients.NONE;
        if (top.containsKey("clients")) {
            Map<String, Node> c = yaml.mapping(top.get("clients"), "clients", CLIENT_KEYS);
            if (c != null) {
                List<Cidr> sources = new ArrayList<>();
                if (c.containsKey("sources")) {
                    List<Node> items = yaml.sequence(c.get("sources"), "clients.sources", "[172.30.0.11/32]");
                    for (int i = 0; items != null && i < items.size(); i++) {
                        String path = "clients.sources[" + i + "]";
                        String text = yaml.string(items.get(i), path, "172.30.0.11/32");
                        if (text != null) {
                            try {
                                sources.add(Cidr.parse(text));
                                sourceNodes.add(items.get(i));
                            } catch (IllegalArgumentException e) {
                                yaml.error(items.get(i), path + ": " + e.getMessage());
                            }
                        }
                    }
                }
                String user = null;
                if (c.containsKey("proxy_user")) {
                    proxyUserNode = c.get("proxy_user");
                    user = yaml.string(proxyUserNode, "clients.proxy_user", expected);
                    if (user != null && !PROXY_USER.matcher(user).matches()) {
                        yaml.error(proxyUserNode, "clients.proxy_user: \"" + user + "\" may hold only letters, digits,"
                                + " '.', '_' and '-' (at most 64)");
                    }
                }
                byte[] token = null;
                if (c.containsKey("token_sha256")) {
                    String hex = yaml.string(c.get("token_sha256"), "clients.token_sha256", "the output of egressd token");
                    if (hex != null && !SHA256_HEX.matcher(hex).matches()) {
                        yaml.error(c.get("token_sha256"), "clients.token_sha256: expected 64 lower-case hex digits"
                                + " (the SHA-256 of the proxy password, as printed by egressd token)");
                    } else if (hex != null) {
                        token = HexFormat.of().parseHex(hex);
                    }
                }
                if (c.containsKey("proxy_user") != c.containsKey("token_sha256")) {
                    yaml.error(top.get("clients"), "clients: proxy_user and token_sha256 go together;"
                            + " run egressd token for a password and its SHA-256");
                }
                clients = new Clients(sources, user, token);
            }
        }
        String dirName = file.toAbsolutePath().getParent() == null ? ""
                : file.toAbsolutePath().getParent().getFileName() + "/";
        String ruleBase = dirName + fileName + "#allow[";
        List<AllowRule> rules = new ArrayList<>();
        if (top.containsKey("allow")) {
            List<Node> items = yaml.sequence(top.get("allow"), "allow", "[{host: api.example.com}]");
            for (int i = 0; items != null && i < items.size(); i++) {
                AllowRule rule = parseRule(yaml, items.get(i), i, ruleBase + i + "]");
                if (rule != null) {
                    rules.add(rule);
                }
            }
        }
        List<ForwardEntry> entries = new ArrayList<>();
        if (top.containsKey("forwards")) {
            List<Node> items = yaml.sequence(top.get("forwards"), "forwards",
                    "[{listen: 127.0.0.1:15432, to: db.internal.example.com:5432}]");
            for (int i = 0; items != null && i < items.size(); i++) {
                entries.add(parseForward(yaml, items.get(i), i));
            }
        }
        if (server == null) {
            return null;
        }
        ServerPolicy ruled = new ServerPolicy(server, description, mode, file.toString(), clients, rules);
        String forwardBase = dirName + fileName + "#forwards[";
        List<Forward> forwards = new ArrayList<>();
        List<Node> listenNodes = new ArrayList<>();
        for (int i = 0; i < entries.size(); i++) {
            ForwardEntry e = entries.get(i);
            if (e == null || !targetAllowed(yaml, ruled, e, i)) {
                continue;
            }
            Forward forward = new Forward(forwardBase + i + "]", server, e.listen, e.to);
            for (int j = 0; j < forwards.size(); j++) {
                if (forwards.get(j).clashes(forward)) {
                    yaml.error(e.listenNode, "forwards[" + i + "].listen: " + format(e.listen) + " is already"
                            + " the listener of " + forwards.get(j).id() + " (" + yaml.position(listenNodes.get(j))
                            + "); each forward needs its own port");
                }
            }
            forwards.add(forward);
            listenNodes.add(e.listenNode);
        }
        ServerPolicy policy = new ServerPolicy(server, description, mode, file.toString(), clients, rules, forwards);
        return new Parsed(policy, yaml, serverNode, proxyUserNode, sourceNodes, listenNodes);
    }

    /** One {@code forwards} entry: {@code {listen: 127.0.0.1:15432, to: db.internal.example.com:5432}}. */
    private static ForwardEntry parseForward(YamlFile yaml, Node node, int index) {
        String path = "forwards[" + index + "]";
        Map<String, Node> f = yaml.mapping(node, path, FORWARD_KEYS);
        if (f == null) {
            return null;
        }
        if (!f.containsKey("listen") || !f.containsKey("to")) {
            yaml.error(node, path + ": a forward has both listen (where egressd listens, e.g. 127.0.0.1:15432)"
                    + " and to (the destination, e.g. db.internal.example.com:5432)");
            return null;
        }
        InetSocketAddress listen = null;
        String listenText = yaml.string(f.get("listen"), path + ".listen", "127.0.0.1:15432");
        if (listenText != null) {
            listen = listenAddress(listenText);
            if (listen == null) {
                yaml.error(f.get("listen"), path + ".listen: \"" + listenText + "\" is not an IP address and port"
                        + " such as 127.0.0.1:15432 or [::1]:15432 (a listener never resolves a name; port 1-65535)");
            }
        }
        Destination to = null;
        String toText = yaml.string(f.get("to"), path + ".to", "db.internal.example.com:5432");
        if (toText != null) {
            try {
                Destination written = Destination.parseAuthority(toText);
                to = new Destination(Host.parse(written.host()).toString(), written.port());
            } catch (InvalidHostException e) {
                yaml.error(f.get("to"), path + ".to: \"" + toText + "\": " + e.getMessage());
            }
        }
        return listen == null || to == null ? null : new ForwardEntry(listen, to, f.get("listen"), f.get("to"));
    }

    /** An IP literal and a port 1-65535, as {@code Destination} reads them; null when it is not one. */
    private static InetSocketAddress listenAddress(String text) {
        try {
            Destination d = Destination.parseAuthority(text);
            return Host.parse(d.host()) instanceof Host.Ip ip ? new InetSocketAddress(ip.address(), d.port()) : null;
        } catch (InvalidHostException e) {
            return null;
        }
    }

    /** A forward's target must be reachable by the server's own rules: a forward never widens an allowlist. */
    private static boolean targetAllowed(YamlFile yaml, ServerPolicy server, ForwardEntry e, int index) {
        String path = "forwards[" + index + "].to";
        int port = e.to.port();
        Host host;
        try {
            host = Host.parse(e.to.host());
        } catch (InvalidHostException ex) {
            throw new AssertionError("canonical hosts parse", ex);
        }
        if (host instanceof Host.Ip ip) {
            if (server.cidrRule(ip.address(), port) != null) {
                return true;
            }
            yaml.error(e.toNode, path + ": " + e.to + " is not allowed by this server's allow rules; add a cidr"
                    + " rule containing " + host + " with ports: [" + port + "]");
            return false;
        }
        String name = ((Host.Name) host).value();
        if (GlobalDeny.BUILT_IN.denyingName(name) != null) {
            yaml.error(e.toNode, path + ": \"" + name + "\" is always denied (local or metadata names); forward"
                    + " to the service's address and allow it with a cidr rule");
            return false;
        }
        List<AllowRule> matching = server.hostRules(name);
        for (AllowRule rule : matching) {
            if (rule.allowsPort(port)) {
                return true;
            }
        }
        yaml.error(e.toNode, path + ": " + e.to + " is not allowed by this server's allow rules; "
                + (matching.isEmpty() ? "add a host rule for " + name + " with ports: [" + port + "]"
                        : "allow[" + index(matching.get(0).id()) + "] matches " + name + " but not port " + port
                                + "; add " + port + " to its ports"));
        return false;
    }

    private static String index(String ruleId) {
        return ruleId.substring(ruleId.lastIndexOf('[') + 1, ruleId.length() - 1);
    }

    static String format(InetSocketAddress address) {
        String host = new Host.Ip(address.getAddress()).toString();
        return host + ":" + address.getPort();
    }

    private static AllowRule parseRule(YamlFile yaml, Node node, int index, String id) {
        String path = "allow[" + index + "]";
        Map<String, Node> r = yaml.mapping(node, path, RULE_KEYS);
        if (r == null) {
            return null;
        }
        boolean ok = true;
        HostPattern host = null;
        Cidr cidr = null;
        if (r.containsKey("host") == r.containsKey("cidr")) {
            yaml.error(node, path + ": a rule has exactly one of host (a name) or cidr (an address range)");
            ok = false;
        }
        if (r.containsKey("host")) {
            String text = yaml.string(r.get("host"), path + ".host", "api.example.com");
            if (text == null) {
                ok = false;
            } else {
                try {
                    host = HostPattern.parse(text);
                    if (GlobalDeny.isBuiltInDenied(host)) {
                        yaml.error(r.get("host"), path + ".host: \"" + text + "\" is always denied (local or metadata"
                                + " names); to reach a local service write a cidr rule for its address");
                        ok = false;
                    }
                } catch (IllegalArgumentException e) {
                    yaml.error(r.get("host"), path + ".host: " + e.getMessage());
                    ok = false;
                }
            }
        }
        if (r.containsKey("cidr")) {
            String text = yaml.string(r.get("cidr"), path + ".cidr", "10.20.0.0/16");
            if (text == null) {
                ok = false;
            } else {
                try {
                    cidr = Cidr.parse(text);
                } catch (IllegalArgumentException e) {
                    yaml.error(r.get("cidr"), path + ".cidr: " + e.getMessage());
                    ok = false;
                }
            }
        }
        List<Integer> ports = AllowRule.DEFAULT_PORTS;
        if (r.containsKey("ports")) {
            List<Node> items = yaml.sequence(r.get("ports"), path + ".ports", "[443]");
            if (items == null) {
                ok = false;
            } else if (items.isEmpty()) {
                yaml.error(r.get("ports"), path + ".ports: empty list; leave ports out for [443] or list the ports");
                ok = false;
            } else {
                Map<Integer, Boolean> seen = new LinkedHashMap<>();
                for (int i = 0; i < items.size(); i++) {
                    Integer port = yaml.port(items.get(i), path + ".ports[" + i + "]");
                    if (port == null) {
                        ok = false;
                    } else if (seen.put(port, Boolean.TRUE) != null) {
                        yaml.error(items.get(i), path + ".ports[" + i + "]: port " + port + " is listed twice");
                        ok = false;
                    }
                }
                ports = List.copyOf(seen.keySet());
            }
        }
        boolean privateAddresses = false;
        if (r.containsKey("private")) {
            Boolean b = yaml.bool(r.get("private"), path + ".private");
            if (b == null) {
                ok = false;
            } else if (r.containsKey("cidr")) {
                yaml.error(r.get("private"), path + ".private: applies to host rules only; a cidr rule already"
                        + " names the addresses it allows");
                ok = false;
            } else {
                privateAddresses = b;
            }
        }
        return ok ? new AllowRule(id, host, cidr, ports, privateAddresses) : null;
    }

    private static void crossCheck(List<Parsed> parsed, List<ValidationError> errors) {
        Map<String, Parsed> byName = new LinkedHashMap<>();
        Map<String, Parsed> byUser = new LinkedHashMap<>();
        List<Parsed> withSources = new ArrayList<>();
        List<Parsed> withForwards = new ArrayList<>();
        for (Parsed p : parsed) {
            Parsed first = byName.putIfAbsent(p.server.name(), p);
            if (first != null) {
                p.yaml.error(p.serverNode, "server: \"" + p.server.name() + "\" is already defined in "
                        + first.yaml.position(first.serverNode) + "; each server has one allowlist");
            }
            String user = p.server.clients().proxyUser();
            if (user != null) {
                Parsed other = byUser.putIfAbsent(user, p);
                if (other != null) {
                    p.yaml.error(p.proxyUserNode, "clients.proxy_user: \"" + user + "\" already identifies server "
                            + other.server.name() + " (" + other.yaml.position(other.proxyUserNode) + ")");
                }
            }
            List<Cidr> mine = p.server.clients().sources();
            for (int i = 0; i < mine.size(); i++) {
                for (Parsed other : withSources) {
                    List<Cidr> theirs = other.server.clients().sources();
                    for (int j = 0; j < theirs.size(); j++) {
                        if (mine.get(i).overlaps(theirs.get(j))) {
                            p.yaml.error(p.sourceNodes.get(i), "clients.sources[" + i + "]: " + mine.get(i)
                                    + " overlaps " + theirs.get(j) + " of server " + other.server.name() + " ("
                                    + other.yaml.position(other.sourceNodes.get(j))
                                    + "); a client address must identify exactly one server");
                        }
                    }
                }
            }
            if (!mine.isEmpty()) {
                withSources.add(p);
            }
            List<Forward> forwards = p.server.forwards();
            for (int i = 0; i < forwards.size(); i++) {
                for (Parsed other : withForwards) {
                    List<Forward> theirs = other.server.forwards();
                    for (int j = 0; j < theirs.size(); j++) {
                        if (forwards.get(i).clashes(theirs.get(j))) {
                            p.yaml.error(p.listenNodes.get(i), "forwards[" + i + "].listen: "
                                    + format(forwards.get(i).listen()) + " is already the listener of "
                                    + theirs.get(j).id() + " of server " + other.server.name() + " ("
                                    + other.yaml.position(other.listenNodes.get(j))
                                    + "); a listener belongs to exactly one server");
                        }
                    }
                }
            }
            if (!forwards.isEmpty()) {
                withForwards.add(p);
            }
        }
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
