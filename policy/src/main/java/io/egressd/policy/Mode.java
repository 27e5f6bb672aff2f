package io.egressd.policy;

/**
 * {@code enforce} refuses; {@code report} allows what steps 4-5 would refuse, and audits it,
 * except an address that only a cidr rule may open (loopback, link-local and metadata,
 * unspecified, multicast, broadcast, reserved, documentation): that floor holds in every mode.
 */
public enum Mode {
    ENFORCE,
    REPORT;

    public String code() {
        return this == ENFORCE ? "enforce" : "report";
    }
}
