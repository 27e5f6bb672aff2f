package io.egressd.policy;

/** {@code enforce} refuses; {@code report} allows what steps 4-5 would refuse, and audits it. */
public enum Mode {
    ENFORCE,
    REPORT;

    public String code() {
        return this == ENFORCE ? "enforce" : "report";
    }
}
