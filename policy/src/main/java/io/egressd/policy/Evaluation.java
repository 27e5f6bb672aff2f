package io.egressd.policy;

import java.net.InetAddress;
import java.util.List;

/**
 * Steps 2-6 of a decision up to the point where a name needs its addresses. Either the
 * decision is already made ({@link #needsAddresses()} false: refusals never cost a lookup),
 * or the caller resolves {@link #name()} however suits it (asynchronously, from a cache)
 * and passes the addresses to {@link #vet}, which picks the one address to dial.
 */
public final class Evaluation {

    private final Decision decided;
    private final ServerPolicy server;
    private final GlobalDeny deny;
    private final String name;
    private final int port;
    private final List<AllowRule> hostRules;
    private final Reason pending;
    private final String pendingRule;
    private final String policyVersion;

    private Evaluation(Decision decided, ServerPolicy server, GlobalDeny deny, String name, int port,
                       List<AllowRule> hostRules, Reason pending, String pendingRule, String policyVersion) {
        this.decided = decided;
        this.server = server;
        this.deny = deny;
        this.name = name;
        this.port = port;
        this.hostRules = hostRules;
        this.pending = pending;
        this.pendingRule = pendingRule;
        this.policyVersion = policyVersion;
    }

    static Evaluation decided(Decision decision) {
        return new Evaluation(decision, null, null, null, decision.port(), List.of(), null, null,
                decision.policyVersion());
    }

    /** A name that may be allowed, by {@code hostRules} or, in report mode, despite {@code pending}. */
    static Evaluation needsAddresses(ServerPolicy server, GlobalDeny deny, String name, int port,
                                     List<AllowRule> hostRules, Reason pending, String pendingRule,
                                     String policyVersion) {
        return new Evaluation(null, server, deny, name, port, hostRules, pending, pendingRule, policyVersion);
    }

    public boolean needsAddresses() {
        return decided == null;
    }

    /** The final decision when no addresses are needed. */
    public Decision decision() {
        if (decided == null) {
            throw new IllegalStateException("decision needs the addresses of " + name + "; call vet()");
        }
        return decided;
    }

    /** The canonical name to resolve. */
    public String name() {
        return decided == null ? name : decided.host();
    }

    /**
     * The decision on the name alone, before any address is known: what a DNS query for it
     * is told. Addresses are still filtered with {@link #permits}.
     */
    public Decision provisional() {
        if (decided != null) {
            return decided;
        }
        if (pending != null) {
            return new Decision(true, pending, server.name(), server.mode(), true, name, port, pendingRule, null,
                    policyVersion);
        }
        return new Decision(true, null, server.name(), server.mode(), false, name, port, hostRules.get(0).id(),
                null, policyVersion);
    }

    /**
     * Step 4's second half: keeps the addresses this server may reach and pins the first.
     *
     * @param addresses what the name resolved to, in the resolver's order; not empty
     */
    public Decision vet(List<InetAddress> addresses) {
        if (decided != null) {
            return decided;
        }
        if (addresses.isEmpty()) {
            throw new IllegalArgumentException("no addresses to vet for " + name);
        }
        GlobalDeny.Entry globalHit = null;
        boolean anyNotDenied = false;
        InetAddress reportable = null;
        for (InetAddress address : addresses) {
            GlobalDeny.Entry hit = deny.denyingAddress(address);
            if (hit != null) {
                globalHit = globalHit == null ? hit : globalHit;
                continue;
            }
            anyNotDenied = true;
            if (pending == null) {
                AllowRule via = usableVia(address);
                if (via != null) {
                    return new Decision(true, null, server.name(), server.mode(), false, name, port, via.id(),
                            address, policyVersion);
                }
            }
            if (reportable == null && aboveFloor(server, address)) {
                reportable = address;
            }
        }
        if (!anyNotDenied) {
            // Global rules hold in every mode, report included.
            return new Decision(false, Reason.DENIED_BY_GLOBAL_RULE, server.name(), server.mode(), false, name,
                    port, globalHit.id(), null, policyVersion);
        }
        Reason reason = pending != null ? pending : Reason.ADDRESS_NOT_ALLOWED;
        String rule = pending != null ? pendingRule : hostRules.get(0).id();
        if (server.mode() == Mode.REPORT && reportable != null) {
            return new Decision(true, reason, server.name(), server.mode(), true, name, port, rule, reportable,
                    policyVersion);
        }
        return new Decision(false, reason, server.name(), server.mode(), false, name, port, rule, null,
                policyVersion);
    }

    /**
     * Whether {@code address} may be handed to this client for the name: the filter a DNS
     * answer goes through, with the same rules as {@link #vet}.
     */
    public boolean permits(InetAddress address) {
        if (decided != null) {
            return decided.allowed() && address.equals(decided.address());
        }
        if (deny.denyingAddress(address) != null) {
            return false;
        }
        if (pending == null && usableVia(address) != null) {
            return true;
        }
        return server.mode() == Mode.REPORT && aboveFloor(server, address);
    }

    /**
     * Whether report mode may let {@code address} through with {@code would_deny}: loopback,
     * link-local and metadata, unspecified, multicast, broadcast, reserved and documentation
     * addresses pass only through a cidr rule (design.md 5.4) in every mode, just as the
     * names that lead to them (localhost, metadata.google.internal) are always denied.
     */
    static boolean aboveFloor(ServerPolicy server, InetAddress address) {
        return !AddressClass.of(address).needsCidrRule() || server.anyCidrRule(address);
    }

    private AllowRule usableVia(InetAddress address) {
        // The host rule that matched the name speaks for a public address; checking the
        // (linearly scanned) cidr rules first would only change which rule is reported.
        AddressClass kind = AddressClass.of(address);
        if (kind == AddressClass.PUBLIC) {
            return hostRules.get(0);
        }
        AllowRule cidr = server.cidrRule(address, port);
        if (cidr != null || kind != AddressClass.PRIVATE) {
            return cidr;
        }
        for (AllowRule rule : hostRules) {
            if (rule.privateAddresses()) {
                return rule;
            }
        }
        return null;
    }
}
