package io.egressd.policy;

import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;

/**
 * Hosts and ranges that beat every allowlist (design.md 5.3): the built-in names that are
 * never a legitimate egress destination, plus the {@code deny} section of egressd.yaml.
 */
public record GlobalDeny(List<Entry> hosts, List<Entry> cidrs) {

    /** One deny entry and where it was written, e.g. {@code egressd.yaml#deny.hosts[0]}. */
    public record Entry(String id, HostPattern host, Cidr cidr) { }

    /** Names that always resolve to the local machine, a metadata service or a local zone. */
    public static final List<String> BUILT_IN_HOSTS = List.of(
            "localhost", "*.localhost", "metadata", "metadata.google.internal",
            "local", "*.local", "arpa", "*.arpa");

    public static final GlobalDeny BUILT_IN = of(List.of(), List.of(), "egressd.yaml");

    public GlobalDeny {
        hosts = List.copyOf(hosts);
        cidrs = List.copyOf(cidrs);
    }

    /**
     * The built-in names plus configured hosts and cidrs, already validated by the caller.
     *
     * @param source how rule ids name the configured entries, e.g. {@code egressd.yaml}
     */
    public static GlobalDeny of(List<HostPattern> hosts, List<Cidr> cidrs, String source) {
        List<Entry> hostEntries = new ArrayList<>();
        for (String builtIn : BUILT_IN_HOSTS) {
            boolean wildcard = builtIn.startsWith("*.");
            hostEntries.add(new Entry("builtin:" + builtIn,
                    new HostPattern(wildcard ? builtIn.substring(2) : builtIn, wildcard), null));
        }
        for (int i = 0; i < hosts.size(); i++) {
            hostEntries.add(new Entry(source + "#deny.hosts[" + i + "]", hosts.get(i), null));
        }
        List<Entry> cidrEntries = new ArrayList<>();
        for (int i = 0; i < cidrs.size(); i++) {
            cidrEntries.add(new Entry(source + "#deny.cidrs[" + i + "]", null, cidrs.get(i)));
        }
        return new GlobalDeny(hostEntries, cidrEntries);
    }

    /** The entry denying a canonical name, or null. */
    public Entry denyingName(String canonicalName) {
        for (Entry e : hosts) {
            if (e.host().matches(canonicalName)) {
                return e;
            }
        }
        return null;
    }

    /** The entry denying an address (as dialed, or the IPv4 address it carries), or null. */
    public Entry denyingAddress(InetAddress address) {
        if (cidrs.isEmpty()) {
            return null;
        }
        InetAddress inner = AddressClass.unwrap(address);
        for (Entry e : cidrs) {
            if (e.cidr().contains(address) || e.cidr().contains(inner)) {
                return e;
            }
        }
        return null;
    }

    /** Whether a host pattern would only ever match always-denied names (a load error in an allowlist). */
    public static boolean isBuiltInDenied(HostPattern pattern) {
        return BUILT_IN.denyingName(pattern.wildcard() ? "x." + pattern.name() : pattern.name()) != null;
    }
}
