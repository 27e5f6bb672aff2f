package io.egressd.config;

import io.egressd.dns.DnsSettings;
import io.egressd.policy.Cidr;
import io.egressd.policy.GlobalDeny;
import io.egressd.policy.HostPattern;
import io.egressd.policy.PolicyException;
import io.egressd.policy.ValidationError;
import io.egressd.policy.YamlFile;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.Tag;

/** Reads egressd.yaml strictly: every key optional, every problem reported as {@code file:line:column}. */
public final class ConfigLoader {

    private static final Set<String> TOP = keys("allowlists", "server", "listen", "dns", "audit", "deny", "limits");
    private static final Set<String> LISTEN = keys("http", "socks", "dns", "admin");
    private static final Set<String> DNS = keys("upstreams", "deny_rcode", "timeout", "tcp_max_connections",
            "tcp_max_connections_per_source", "tcp_frame_timeout",
            "udp_queries_per_second_per_source", "udp_query_burst_per_source");
    private static final Set<String> AUDIT = keys("output", "allowed", "dns_allowed",
            "on_failure");
    private static final Set<String> DENY = keys("hosts", "cidrs");
    private static final Set<String> LIMITS = keys("connect_timeout", "idle_timeout", "max_connections", "header_timeout",
            "max_connections_per_source", "max_connections_per_server", "requests_per_second_per_server",
            "shutdown_grace");
    private static final Pattern DURATION = Pattern.compile("([1-9][0-9]{0,8})(ms|s|m|h)");
    private static final Pattern SERVER_NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");
    /** Longer is a typo, and the parts that count in nanoseconds (toNanos) or int seconds would overflow. */
    static final Duration MAX_DURATION = Duration.ofHours(24);
    /** LittleProxy counts idle time in whole seconds, and 0 would switch its idle timeout off. */
    static final Duration MIN_IDLE_TIMEOUT = Duration.ofSeconds(1);

    private ConfigLoader() {
    }

    /** What {@code server:} and {@code --server} may name: an allowlist file name without .yaml. */
    public static boolean isServerName(String name) {
        return SERVER_NAME.matcher(name).matches();
    }

    private static Set<String> keys(String... names) {
        return Collections.unmodifiableSet(new LinkedHashSet<>(List.of(names)));
    }

    /** Loads {@code file}; relative paths in it resolve against its directory. */
    public static Config load(Path file) throws PolicyException {
        List<ValidationError> errors = new ArrayList<>();
        YamlFile yaml = YamlFile.of(file.toString(), errors);
        Node root = yaml.read(file);
        Config defaults = Config.defaults();
        if (root == null) {
            // An empty egressd.yaml is a valid "all defaults"; anything else unreadable is not.
            if (errors.size() == 1 && errors.get(0).message().equals("file is empty")) {
                return new Config(file, resolve(file, defaults.allowlists()), null, defaults.listen(),
                        defaults.dns(), defaults.audit(), defaults.deny(), defaults.limits());
            }
            throw new PolicyException(errors);
        }
        Config config = parse(file, yaml, root, defaults);
        if (!errors.isEmpty()) {
            Collections.sort(errors);
            throw new PolicyException(errors);
        }
        return config;
    }

    private static Config parse(Path file, YamlFile yaml, Node root, Config d) {
        Map<String, Node> top = yaml.mapping(root, "", TOP);
        if (top == null) {
            return d;
        }
        Path allowlists = d.allowlists();
        if (top.containsKey("allowlists")) {
            String s = yaml.string(top.get("allowlists"), "allowlists", "allowlists");
            if (s != null) {
                allowlists = Path.of(s);
            }
        }
        allowlists = resolve(file, allowlists);
        String server = null;
        if (top.containsKey("server") && !isNull(top.get("server"))) {
            server = yaml.string(top.get("server"), "server", "slack");
            if (server != null && !SERVER_NAME.matcher(server).matches()) {
                yaml.error(top.get("server"), "server: \"" + server + "\" is not a server name (an allowlist file"
                        + " name without .yaml)");
            }
        }
        Config.Listen listen = d.listen();
        if (top.containsKey("listen")) {
            Map<String, Node> l = yaml.mapping(top.get("listen"), "listen", LISTEN);
            if (l != null) {
                listen = new Config.Listen(
                        address(yaml, l, "http", listen.http()),
                        address(yaml, l, "socks", listen.socks()),
                        address(yaml, l, "dns", listen.dns()),
                        address(yaml, l, "admin", listen.admin()));
            }
        }
        Config.Dns dns = d.dns();
        if (top.containsKey("dns")) {
            Map<String, Node> m = yaml.mapping(top.get("dns"), "dns", DNS);
            if (m != null) {
                List<String> upstreams = dns.upstreams();
                if (m.containsKey("upstreams")) {
                    List<Node> items = yaml.sequence(m.get("upstreams"), "dns.upstreams", "[system] or [\"10.0.0.2:53\"]");
                    if (items != null) {
                        List<String> parsed = new ArrayList<>();
                        for (int i = 0; i < items.size(); i++) {
                            String path = "dns.upstreams[" + i + "]";
                            String u = yaml.string(items.get(i), path, "\"10.0.0.2:53\"");
                            if (u != null && !u.equals(DnsSettings.SYSTEM) && !isUpstream(u)) {
                                yaml.error(items.get(i), path + ": \"" + u + "\" is not system or an IP address"
                                        + " (with an optional port) such as \"10.0.0.2:53\" or \"[2001:db8::53]:53\"");
                            } else if (u != null) {
                                parsed.add(u);
                            }
                        }
                        if (items.isEmpty()) {
                            yaml.error(m.get("upstreams"), "dns.upstreams: empty list; write [system] or addresses");
                        }
                        upstreams = parsed;
                    }
                }
                String rcode = dns.denyRcode();
                if (m.containsKey("deny_rcode")) {
                    String r = yaml.string(m.get("deny_rcode"), "dns.deny_rcode", "NXDOMAIN");
                    if (r != null && !r.equals("NXDOMAIN") && !r.equals("REFUSED")) {
                        yaml.error(m.get("deny_rcode"), "dns.deny_rcode: write NXDOMAIN or REFUSED");
                    } else if (r != null) {
                        rcode = r;
                    }
                }
                Duration timeout = duration(yaml, m, "timeout", "dns.timeout", dns.timeout());
                dns = new Config.Dns(upstreams, rcode, timeout,
                        count(yaml, m, "tcp_max_connections", "dns.tcp_max_connections", dns.tcpMaxConnections()),
                        count(yaml, m, "tcp_max_connections_per_source", "dns.tcp_max_connections_per_source",
                                dns.tcpMaxConnectionsPerSource()),
                        duration(yaml, m, "tcp_frame_timeout", "dns.tcp_frame_timeout", dns.tcpFrameTimeout()),
                        rate(yaml, m, "udp_queries_per_second_per_source", "dns.udp_queries_per_second_per_source",
                                dns.udpQueriesPerSecondPerSource()),
                        count(yaml, m, "udp_query_burst_per_source", "dns.udp_query_burst_per_source",
                                dns.udpQueryBurstPerSource()));
            }
        }
        Config.Audit audit = d.audit();
        if (top.containsKey("audit")) {
            Map<String, Node> m = yaml.mapping(top.get("audit"), "audit", AUDIT);
            if (m != null) {
                String output = audit.output();
                if (m.containsKey("output")) {
                    String o = yaml.string(m.get("output"), "audit.output", "stdout");
                    if (o != null) {
                        output = o.equals("stdout") ? o : resolve(file, Path.of(o)).toString();
                    }
                }
                audit = new Config.Audit(output, bool(yaml, m, "allowed", "audit.allowed", audit.allowed()),
                        bool(yaml, m, "dns_allowed", "audit.dns_allowed", audit.dnsAllowed()),
                        refuseOnFailure(yaml, m, audit.refuseOnFailure()));
            }
        }
        GlobalDeny deny = d.deny();
        if (top.containsKey("deny")) {
            Map<String, Node> m = yaml.mapping(top.get("deny"), "deny", DENY);
            if (m != null) {
                List<HostPattern> hosts = new ArrayList<>();
                List<Cidr> cidrs = new ArrayList<>();
                for (Node n : list(yaml, m, "hosts", "deny.hosts", "[\"*.pastebin.com\"]")) {
                    String path = "deny.hosts[" + hosts.size() + "]";
                    String s = yaml.string(n, path, "\"*.pastebin.com\"");
                    try {
                        if (s != null) {
                            hosts.add(HostPattern.parse(s));
                        }
                    } catch (IllegalArgumentException e) {
                        yaml.error(n, path + ": " + e.getMessage());
                    }
                }
                for (Node n : list(yaml, m, "cidrs", "deny.cidrs", "[10.0.0.0/8]")) {
                    String path = "deny.cidrs[" + cidrs.size() + "]";
                    String s = yaml.string(n, path, "10.0.0.0/8");
                    try {
                        if (s != null) {
                            cidrs.add(Cidr.parse(s));
                        }
                    } catch (IllegalArgumentException e) {
                        yaml.error(n, path + ": " + e.getMessage());
                    }
                }
                deny = GlobalDeny.of(hosts, cidrs, file.getFileName().toString());
            }
        }
        Config.Limits limits = d.limits();
        if (top.containsKey("limits")) {
            Map<String, Node> m = yaml.mapping(top.get("limits"), "limits", LIMITS);
            if (m != null) {
                limits = new Config.Limits(
                        duration(yaml, m, "connect_timeout", "limits.connect_timeout", limits.connectTimeout()),
                        duration(yaml, m, "idle_timeout", "limits.idle_timeout", limits.idleTimeout(),
                                MIN_IDLE_TIMEOUT),
                        count(yaml, m, "max_connections", "limits.max_connections", limits.maxConnections()),
                        duration(yaml, m, "header_timeout", "limits.header_timeout", limits.headerTimeout()),
                        count(yaml, m, "max_connections_per_source", "limits.max_connections_per_source",
                                limits.maxConnectionsPerSource()),
                        count(yaml, m, "max_connections_per_server", "limits.max_connections_per_server",
                                limits.maxConnectionsPerServer()),
                        rate(yaml, m, "requests_per_second_per_server", "limits.requests_per_second_per_server",
                                limits.requestsPerSecondPerServer()),
                        duration(yaml, m, "shutdown_grace", "limits.shutdown_grace", limits.shutdownGrace()));
            }
        }
        return new Config(file, allowlists, server, listen, dns, audit, deny, limits);
    }

    private static List<Node> list(YamlFile yaml, Map<String, Node> m, String key, String path, String example) {
        if (!m.containsKey(key)) {
            return List.of();
        }
        List<Node> items = yaml.sequence(m.get(key), path, example);
        return items == null ? List.of() : items;
    }

    private static boolean isNull(Node node) {
        return Tag.NULL.equals(node.getTag());
    }

    private static InetSocketAddress address(YamlFile yaml, Map<String, Node> m, String key, InetSocketAddress dflt) {
        if (!m.containsKey(key)) {
            return dflt;
        }
        Node n = m.get(key);
        if (isNull(n)) {
            return null;
        }
        String s = yaml.string(n, "listen." + key, "127.0.0.1:3128");
        if (s == null) {
            return dflt;
        }
        InetSocketAddress a = parseHostPort(s);
        if (a == null) {
            yaml.error(n, "listen." + key + ": \"" + s + "\" is not an address with port such as 127.0.0.1:3128,"
                    + " 0.0.0.0:3128 or [::1]:3128 (write null to turn the listener off)");
            return dflt;
        }
        return a;
    }

    private static boolean isUpstream(String spec) {
        try {
            DnsSettings.parseUpstreams(List.of(spec));
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /** {@code 127.0.0.1:3128} or {@code [::1]:3128}, IP literals only (a listener never resolves); null if not. */
    public static InetSocketAddress parseHostPort(String s) {
        int colon = s.lastIndexOf(':');
        if (colon <= 0) {
            return null;
        }
        String host = s.substring(0, colon);
        String port = s.substring(colon + 1);
        if (!port.matches("0|[1-9][0-9]{0,4}") || Integer.parseInt(port) > 65535) {
            return null;
        }
        try {
            Cidr single = Cidr.parse(host.startsWith("[") && host.endsWith("]")
                    ? host.substring(1, host.length() - 1) : host);
            if (host.indexOf(':') >= 0 && !host.startsWith("[")) {
                return null;
            }
            return new InetSocketAddress(single.network(), Integer.parseInt(port));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static boolean bool(YamlFile yaml, Map<String, Node> m, String key, String path, boolean dflt) {
        if (!m.containsKey(key)) {
            return dflt;
        }
        Boolean b = yaml.bool(m.get(key), path);
        return b == null ? dflt : b;
    }

    /** {@code audit.on_failure}: {@code refuse} (true) or {@code continue} (false). */
    private static boolean refuseOnFailure(YamlFile yaml, Map<String, Node> m, boolean dflt) {
        if (!m.containsKey("on_failure")) {
            return dflt;
        }
        String v = yaml.string(m.get("on_failure"), "audit.on_failure", "refuse");
        if ("refuse".equals(v) || "continue".equals(v)) {
            return "refuse".equals(v);
        }
        if (v != null) {
            yaml.error(m.get("on_failure"), "audit.on_failure: write refuse or continue");
        }
        return dflt;
    }

    /** A whole number from 1 to 9999999. */
    private static int count(YamlFile yaml, Map<String, Node> m, String key, String path, int dflt) {
        return whole(yaml, m, key, path, dflt, "[1-9][0-9]{0,6}", "from 1 to 9999999");
    }

    /** A whole number from 0 (off) to 9999999. */
    private static int rate(YamlFile yaml, Map<String, Node> m, String key, String path, int dflt) {
        return whole(yaml, m, key, path, dflt, "0|[1-9][0-9]{0,6}", "from 0 (off) to 9999999");
    }

    private static int whole(YamlFile yaml, Map<String, Node> m, String key, String path, int dflt, String digits,
                             String range) {
        if (!m.containsKey(key)) {
            return dflt;
        }
        Node n = m.get(key);
        String v = n instanceof org.yaml.snakeyaml.nodes.ScalarNode s ? s.getValue() : "";
        if (Tag.INT.equals(n.getTag()) && v.matches(digits)) {
            return Integer.parseInt(v);
        }
        yaml.error(n, path + ": expected a whole number " + range);
        return dflt;
    }

    private static Duration duration(YamlFile yaml, Map<String, Node> m, String key, String path, Duration dflt) {
        return duration(yaml, m, key, path, dflt, Duration.ofMillis(1));
    }

    /** A duration from {@code min} to {@link #MAX_DURATION}. */
    private static Duration duration(YamlFile yaml, Map<String, Node> m, String key, String path, Duration dflt,
                                     Duration min) {
        if (!m.containsKey(key)) {
            return dflt;
        }
        Node n = m.get(key);
        String s = n instanceof org.yaml.snakeyaml.nodes.ScalarNode scalar ? scalar.getValue() : "";
        Matcher matcher = DURATION.matcher(s);
        if (!matcher.matches()) {
            yaml.error(n, path + ": expected a duration such as 500ms, 10s, 5m or 1h");
            return dflt;
        }
        long v = Long.parseLong(matcher.group(1));
        Duration d = switch (matcher.group(2)) {
            case "ms" -> Duration.ofMillis(v);
            case "s" -> Duration.ofSeconds(v);
            case "m" -> Duration.ofMinutes(v);
            default -> Duration.ofHours(v);
        };
        if (d.compareTo(min) < 0 || d.compareTo(MAX_DURATION) > 0) {
            yaml.error(n, path + ": " + s + " is out of range; write a duration from " + format(min) + " to "
                    + format(MAX_DURATION) + ", such as " + format(dflt));
            return dflt;
        }
        return d;
    }

    /** 1s, 24h, 1500ms: as it would be written in egressd.yaml. */
    private static String format(Duration d) {
        long ms = d.toMillis();
        if (ms % 3_600_000 == 0) {
            return ms / 3_600_000 + "h";
        }
        if (ms % 60_000 == 0 && ms >= 600_000) {
            return ms / 60_000 + "m";
        }
        return ms % 1000 == 0 ? ms / 1000 + "s" : ms + "ms";
    }

    private static Path resolve(Path file, Path p) {
        if (p.isAbsolute()) {
            return p;
        }
        // Keeps a relative config's paths relative, so errors name files as the user wrote them.
        Path dir = file.getParent();
        return dir == null ? p : dir.resolve(p).normalize();
    }
}
