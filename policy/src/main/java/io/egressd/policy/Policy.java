package io.egressd.policy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Every server's allowlist plus the global deny rules: immutable, so a reload builds a new
 * one and swaps it in whole, and a connection keeps the policy that decided it.
 */
public final class Policy {

    private record Source(Cidr range, ServerPolicy server) { }

    private static final byte[] NO_TOKEN = new byte[32];

    private final Map<String, ServerPolicy> servers;
    private final Map<String, ServerPolicy> byProxyUser;
    private final List<Source> sources;
    private final GlobalDeny deny;
    private final String version;
    /** Set on a copy that refuses every destination for this reason (see {@link #refusingAll}); else null. */
    private final Reason refusing;

    /**
     * @throws IllegalArgumentException when two servers share a name, a proxy user or a source
     *         range (the loader reports these with file positions before it gets here)
     */
    public Policy(Collection<ServerPolicy> servers, GlobalDeny deny, String version) {
        Map<String, ServerPolicy> byName = new TreeMap<>();
        Map<String, ServerPolicy> byProxyUser = new HashMap<>();
        List<Source> sources = new ArrayList<>();
        for (ServerPolicy server : servers) {
            if (byName.put(server.name(), server) != null) {
                throw new IllegalArgumentException("two allowlists for server " + server.name());
            }
            Clients clients = server.clients();
            if (clients.proxyUser() != null && byProxyUser.put(clients.proxyUser(), server) != null) {
                throw new IllegalArgumentException("proxy_user " + clients.proxyUser() + " names two servers");
            }
            for (Cidr range : clients.sources()) {
                for (Source other : sources) {
                    if (other.range.overlaps(range)) {
                        throw new IllegalArgumentException("source " + range + " of " + server.name()
                                + " overlaps " + other.range + " of " + other.server.name());
                    }
                }
                sources.add(new Source(range, server));
            }
        }
        List<Forward> forwards = new ArrayList<>();
        for (ServerPolicy server : byName.values()) {
            for (Forward forward : server.forwards()) {
                for (Forward other : forwards) {
                    if (other.clashes(forward)) {
                        throw new IllegalArgumentException("forward " + forward.id() + " listens where "
                                + other.id() + " does");
                    }
                }
                forwards.add(forward);
            }
        }
        this.servers = Collections.unmodifiableMap(byName);
        this.byProxyUser = byProxyUser;
        this.sources = sources;
        this.deny = deny;
        this.version = version;
        this.refusing = null;
    }

    private Policy(Policy base, Reason refusing) {
        this.servers = base.servers;
        this.byProxyUser = base.byProxyUser;
        this.sources = base.sources;
        this.deny = base.deny;
        this.version = base.version;
        this.refusing = refusing;
    }

    /**
     * This policy, except that every destination and query of an identified client is refused
     * for {@code reason}: what the daemon hands the fronts while it cannot take responsibility
     * for egress (the audit output failing). Identification still runs first, so the refusal
     * names the server like any other.
     */
    public Policy refusingAll(Reason reason) {
        return new Policy(this, java.util.Objects.requireNonNull(reason, "reason"));
    }

    public static Policy empty() {
        return new Policy(List.of(), GlobalDeny.BUILT_IN, "empty");
    }

    public Map<String, ServerPolicy> servers() {
        return servers;
    }

    public ServerPolicy server(String name) {
        return servers.get(name);
    }

    /** Every server's TCP forwards, by server name, then in file order. */
    public List<Forward> forwards() {
        List<Forward> all = new ArrayList<>();
        for (ServerPolicy server : servers.values()) {
            all.addAll(server.forwards());
        }
        return all;
    }

    public GlobalDeny globalDeny() {
        return deny;
    }

    /** A short content hash of the files this policy came from; audit events carry it. */
    public String version() {
        return version;
    }

    /** Whether some server can be identified by proxy credentials. */
    public boolean acceptsCredentials() {
        return !byProxyUser.isEmpty();
    }

    /**
     * Step 1: who is asking.
     *
     * @param boundServer   the server a listener belongs to (sidecar), or null
     * @param proxyUser     the user name of proxy credentials, or null when none were sent
     * @param proxyPassword their password, or null
     * @param source        the client's address, or null
     */
    public Identity identify(String boundServer, String proxyUser, String proxyPassword, InetAddress source) {
        if (boundServer != null) {
            return servers.containsKey(boundServer)
                    ? Identity.of(boundServer) : Identity.failed(Reason.UNKNOWN_CLIENT, false);
        }
        if (proxyUser != null) {
            ServerPolicy server = byProxyUser.get(proxyUser);
            byte[] expected = server == null ? NO_TOKEN : server.clients().tokenSha256();
            byte[] presented = sha256(proxyPassword == null ? "" : proxyPassword);
            // MessageDigest.isEqual is constant-time; an unknown user costs the same comparison.
            boolean ok = MessageDigest.isEqual(presented, expected) && server != null;
            return ok ? Identity.of(server.name()) : Identity.failed(Reason.BAD_CREDENTIALS, true);
        }
        if (source != null) {
            InetAddress client = unmapped(source);
            for (Source s : sources) {
                if (s.range.contains(client)) {
                    return Identity.of(s.server.name());
                }
            }
        }
        return Identity.failed(Reason.UNKNOWN_CLIENT, acceptsCredentials());
    }

    /**
     * An IPv4-mapped IPv6 address (a dual-stack socket's view of an IPv4 client) as the IPv4
     * address it is, so that IPv4 {@code sources} identify it. Only the mapped form: 6to4,
     * Teredo and NAT64 addresses are other hosts, and must not borrow an IPv4 identity.
     */
    private static InetAddress unmapped(InetAddress address) {
        byte[] b = address.getAddress();
        if (b.length == 16 && b[10] == (byte) 0xff && b[11] == (byte) 0xff
                && java.util.Arrays.equals(b, 0, 10, NO_TOKEN, 0, 10)) {
            try {
                return InetAddress.getByAddress(java.util.Arrays.copyOfRange(b, 12, 16));
            } catch (UnknownHostException e) {
                throw new AssertionError(e);
            }
        }
        return address;
    }

    /** Steps 2-6 for a connection to {@code rawHost:port}, short of resolving a name. */
    public Evaluation evaluate(String server, String rawHost, int port) {
        if (server == null || !servers.containsKey(server)) {
            // Step 1 comes first: an unidentified client learns nothing about its destination.
            return Evaluation.decided(refusal(Reason.UNKNOWN_CLIENT, server, rawHost, port));
        }
        if (port < 1 || port > 65535) {
            return Evaluation.decided(refusal(Reason.INVALID_HOST, server, rawHost, port));
        }
        return evaluate(server, rawHost, port, false);
    }

    /** The same for a DNS question name: ports do not matter, IP-shaped names are invalid. */
    public Evaluation evaluateQuery(String server, String qname) {
        return evaluate(server, qname, 0, true);
    }

    /** A complete decision, resolving names through {@code resolver} when the policy needs addresses. */
    public Decision decide(String server, String rawHost, int port, NameResolver resolver)
            throws UnknownHostException {
        Evaluation evaluation = evaluate(server, rawHost, port);
        if (!evaluation.needsAddresses()) {
            return evaluation.decision();
        }
        return evaluation.vet(resolver.resolve(evaluation.name()));
    }

    /** A refusal made outside the allowlist (identity, query type, limits), in the same shape. */
    public Decision refusal(Reason reason, String server, String host, int port) {
        ServerPolicy sp = server == null ? null : servers.get(server);
        return new Decision(false, reason, sp == null ? server : sp.name(), sp == null ? null : sp.mode(), false,
                host, port, null, null, version);
    }

    private Evaluation evaluate(String serverName, String rawHost, int port, boolean query) {
        ServerPolicy server = serverName == null ? null : servers.get(serverName);
        if (server == null) {
            return Evaluation.decided(refusal(Reason.UNKNOWN_CLIENT, serverName, rawHost, port));
        }
        if (refusing != null) {
            return Evaluation.decided(refusal(refusing, serverName, rawHost, port));
        }
        Host host;
        try {
            host = Host.parse(rawHost);
        } catch (InvalidHostException e) {
            return Evaluation.decided(refusal(Reason.INVALID_HOST, serverName, rawHost, port));
        }
        if (host instanceof Host.Ip ip) {
            if (query) {
                return Evaluation.decided(refusal(Reason.INVALID_HOST, serverName, rawHost, port));
            }
            return Evaluation.decided(decideLiteral(server, ip, port));
        }
        String name = ((Host.Name) host).value();
        GlobalDeny.Entry denied = deny.denyingName(name);
        if (denied != null) {
            return Evaluation.decided(new Decision(false, Reason.DENIED_BY_GLOBAL_RULE, server.name(), server.mode(),
                    false, name, port, denied.id(), null, version));
        }
        List<AllowRule> byName = server.hostRules(name);
        Reason pending = null;
        String pendingRule = null;
        List<AllowRule> usable = byName;
        if (byName.isEmpty()) {
            pending = Reason.HOST_NOT_ALLOWED;
        } else if (!query) {
            usable = new ArrayList<>(byName.size());
            for (AllowRule rule : byName) {
                if (rule.allowsPort(port)) {
                    usable.add(rule);
                }
            }
            if (usable.isEmpty()) {
                pending = Reason.PORT_NOT_ALLOWED;
                pendingRule = byName.get(0).id();
            }
        }
        if (pending != null && server.mode() == Mode.ENFORCE) {
            // Refused without a lookup: a denied name never reaches a resolver.
            return Evaluation.decided(new Decision(false, pending, server.name(), server.mode(), false, name, port,
                    pendingRule, null, version));
        }
        return Evaluation.needsAddresses(server, deny, name, port, List.copyOf(usable), pending, pendingRule,
                version);
    }

    private Decision decideLiteral(ServerPolicy server, Host.Ip ip, int port) {
        InetAddress address = ip.address();
        String host = ip.toString();
        GlobalDeny.Entry denied = deny.denyingAddress(address);
        if (denied != null) {
            return new Decision(false, Reason.DENIED_BY_GLOBAL_RULE, server.name(), server.mode(), false, host, port,
                    denied.id(), null, version);
        }
        AllowRule rule = server.cidrRule(address, port);
        if (rule != null) {
            return new Decision(true, null, server.name(), server.mode(), false, host, port, rule.id(), address,
                    version);
        }
        Reason reason = server.anyCidrRule(address) ? Reason.PORT_NOT_ALLOWED : Reason.IP_LITERAL_NOT_ALLOWED;
        if (server.mode() == Mode.REPORT && Evaluation.aboveFloor(server, address)) {
            return new Decision(true, reason, server.name(), server.mode(), true, host, port, null, address, version);
        }
        return new Decision(false, reason, server.name(), server.mode(), false, host, port, null, null, version);
    }

    static byte[] sha256(String text) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError("every JDK has SHA-256", e);
        }
    }
}
