package io.egressd.audit;

/** The audit event types of design.md section 7; {@link #code()} is the {@code event} field. */
public enum AuditEvent {
    EGRESS_ALLOWED("egress.allowed"),
    EGRESS_DENIED("egress.denied"),
    EGRESS_CLOSED("egress.closed"),
    DNS_ALLOWED("dns.allowed"),
    DNS_DENIED("dns.denied"),
    POLICY_LOADED("policy.loaded"),
    POLICY_REJECTED("policy.rejected");

    private final String code;

    AuditEvent(String code) {
        this.code = code;
    }

    public String code() {
        return code;
    }
}
