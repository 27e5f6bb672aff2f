package io.egressd.policy;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One server's allowlist, indexed for matching: exact names in a hash map, wildcards by
 * suffix, so a decision costs one lookup per label rather than one comparison per rule.
 */
public final class ServerPolicy {

    private final String name;
    private final String description;
    private final Mode mode;
    private final String file;
    private final Clients clients;
    private final List<AllowRule> rules;
    private final List<Forward> forwards;
    private final Map<String, List<AllowRule>> exact = new HashMap<>();
    private final Map<String, List<AllowRule>> wildcardSuffixes = new HashMap<>();
    private final List<AllowRule> cidrRules = new ArrayList<>();
    private final CidrIndex cidrIndex;

    public ServerPolicy(String name, String description, Mode mode, String file, Clients clients,
                        List<AllowRule> rules) {
        this(name, description, mode, file, clients, rules, List.of());
    }

    /** @param forwards the server's TCP forwards; each target must be allowed by {@code rules} (the loader checks) */
    public ServerPolicy(String name, String description, Mode mode, String file, Clients clients,
                        List<AllowRule> rules, List<Forward> forwards) {
        this.name = name;
        this.forwards = List.copyOf(forwards);
        this.description = description == null ? "" : description;
        this.mode = mode;
        this.file = file;
        this.clients = clients;
        this.rules = List.copyOf(rules);
        // Lists keep file order, so the first rule written is the one reported.
        for (AllowRule rule : this.rules) {
            if (rule.cidr() != null) {
                cidrRules.add(rule);
            } else if (rule.host().wildcard()) {
                wildcardSuffixes.computeIfAbsent(rule.host().name(), k -> new ArrayList<>()).add(rule);
            } else {
                exact.computeIfAbsent(rule.host().name(), k -> new ArrayList<>()).add(rule);
            }
        }
        cidrIndex = new CidrIndex(cidrRules);
    }

    public String name() {
        return name;
    }

    public String description() {
        return description;
    }

    public Mode mode() {
        return mode;
    }

    /** The allowlist file this server came from, as given to the loader. */
    public String file() {
        return file;
    }

    public Clients clients() {
        return clients;
    }

    public List<AllowRule> rules() {
        return rules;
    }

    /** The TCP forwards this server's allowlist declares, in file order. */
    public List<Forward> forwards() {
        return forwards;
    }

    /** Host rules matching a canonical name, in file order. */
    List<AllowRule> hostRules(String canonicalName) {
        List<AllowRule> found = null;
        List<AllowRule> direct = exact.get(canonicalName);
        if (direct != null) {
            found = new ArrayList<>(direct);
        }
        for (int dot = canonicalName.indexOf('.'); dot >= 0; dot = canonicalName.indexOf('.', dot + 1)) {
            List<AllowRule> wild = wildcardSuffixes.get(canonicalName.substring(dot + 1));
            if (wild != null) {
                if (found == null) {
                    found = new ArrayList<>(wild);
                } else {
                    found.addAll(wild);
                }
            }
        }
        if (found == null) {
            return List.of();
        }
        if (found.size() > 1) {
            found.sort((a, b) -> Integer.compare(rules.indexOf(a), rules.indexOf(b)));
        }
        return found;
    }

    /** The first cidr rule covering {@code address} and {@code port} (any port when port is 0). */
    AllowRule cidrRule(InetAddress address, int port) {
        return cidrRules.isEmpty() ? null : cidrIndex.find(address.getAddress(), port);
    }

    /** Whether some cidr rule covers {@code address} at all, whatever its ports. */
    boolean anyCidrRule(InetAddress address) {
        return cidrRule(address, 0) != null;
    }

    @Override
    public String toString() {
        return name + " (" + file + ")";
    }
}
