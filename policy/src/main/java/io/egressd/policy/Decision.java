package io.egressd.policy;

import java.net.InetAddress;

/**
 * The answer to "may this server reach this destination": what to do, why, which rule said
 * so, and, for an allowed connection, the one address to dial.
 *
 * @param allowed   whether to let the connection (or query) through
 * @param reason    why it was refused, or, with {@code wouldDeny}, why enforce mode would refuse it; null when allowed outright
 * @param server    the identified server, or null when no server was identified
 * @param mode      the server's mode, or null when no server was identified
 * @param wouldDeny report mode let through what enforce mode would refuse
 * @param host      the canonical host, or the raw one when it did not canonicalize
 * @param port      the destination port, 0 for DNS queries
 * @param rule      the rule that allowed or refused, e.g. {@code allowlists/slack.yaml#allow[0]}; null when none did
 * @param address   the vetted address to dial (pinned: no second lookup); null when refused or not yet resolved
 * @param policyVersion the version of the policy that decided
 */
public record Decision(boolean allowed, Reason reason, String server, Mode mode, boolean wouldDeny,
                       String host, int port, String rule, InetAddress address, String policyVersion) {

    public boolean denied() {
        return !allowed;
    }

    /** One line for people: {@code denied host_not_allowed (rule: -)}. */
    public String summary() {
        StringBuilder b = new StringBuilder(allowed ? "allowed" : "denied");
        if (reason != null) {
            b.append(' ').append(reason.code());
        }
        if (wouldDeny) {
            b.append(" (report mode: would deny)");
        }
        return b.toString();
    }

    Decision withAddress(InetAddress dial) {
        return new Decision(allowed, reason, server, mode, wouldDeny, host, port, rule, dial, policyVersion);
    }
}
