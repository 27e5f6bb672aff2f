package io.egressd.metrics;

import io.egressd.policy.Decision;
import io.egressd.policy.Protocol;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * Label values, each from a small fixed set, so that no client can grow the number of series:
 * never a destination host or a client address (those are in the audit event).
 */
final class Labels {

    static final String UNKNOWN = "unknown";
    static final String NONE = "none";
    static final String OTHER = "other";

    /** The query types worth telling apart; anything else (TYPE65280, a typo) is {@code other}. */
    static final Set<String> QTYPES = Set.of("A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "PTR", "SRV",
            "CAA", "HTTPS", "SVCB", "ANY", "NULL", "DS", "DNSKEY", "NAPTR");

    // The loader's own rule for server names; a second check costs nothing and keeps labels tidy.
    private static final Pattern SERVER_NAME = Pattern.compile("[a-z0-9][a-z0-9_-]{0,62}");

    private Labels() {
    }

    /**
     * The server, when the decision identified it from the policy (then it has a mode: every
     * server the policy knows has one), else {@code unknown}. Taken from the decision, not the
     * current policy, so a connection closes under the label it opened with even across a reload.
     */
    static String server(Decision d) {
        String server = d.server();
        return server != null && d.mode() != null && validServerName(server) ? server : UNKNOWN;
    }

    /** Names that passed the check: a regular expression per request and close is measurable on C1. */
    private static final Map<String, Boolean> CHECKED = new ConcurrentHashMap<>();
    /** Server names come from the policy, so few; the bound only keeps a pathological policy from growing it. */
    private static final int CHECKED_MAX = 1024;

    private static boolean validServerName(String server) {
        Boolean known = CHECKED.get(server);
        if (known != null) {
            return known;
        }
        boolean valid = SERVER_NAME.matcher(server).matches();
        if (CHECKED.size() < CHECKED_MAX) {
            CHECKED.put(server, valid);
        }
        return valid;
    }

    static String protocol(Protocol protocol) {
        return protocol == null ? UNKNOWN : protocol.code();
    }

    /** {@code allowed}, {@code denied}, or {@code would_deny} (report mode let it through). */
    static String decision(Decision d) {
        if (d.denied()) {
            return "denied";
        }
        return d.wouldDeny() ? "would_deny" : "allowed";
    }

    static String reason(Decision d) {
        return d.reason() == null ? NONE : d.reason().code();
    }

    static String qtype(String qtype) {
        if (qtype == null) {
            return OTHER;
        }
        String upper = qtype.toUpperCase(Locale.ROOT);
        return QTYPES.contains(upper) ? upper : OTHER;
    }
}
