package io.egressd.policy;

import java.util.Locale;

/** Why a destination was refused; {@link #code()} is what audit events, metrics and headers carry. */
public enum Reason {
    UNKNOWN_CLIENT,
    BAD_CREDENTIALS,
    INVALID_HOST,
    DENIED_BY_GLOBAL_RULE,
    HOST_NOT_ALLOWED,
    PORT_NOT_ALLOWED,
    ADDRESS_NOT_ALLOWED,
    IP_LITERAL_NOT_ALLOWED,
    QTYPE_NOT_ALLOWED,
    LIMIT_EXCEEDED,
    /** The audit output cannot be written, and {@code audit.on_failure} is {@code refuse}. */
    AUDIT_UNAVAILABLE;

    private final String code = name().toLowerCase(Locale.ROOT);

    public String code() {
        return code;
    }

    /** Whether {@code mode: report} may turn this refusal into an audited allow (design.md 5.6). */
    public boolean reportable() {
        return this == HOST_NOT_ALLOWED || this == PORT_NOT_ALLOWED
                || this == ADDRESS_NOT_ALLOWED || this == IP_LITERAL_NOT_ALLOWED;
    }
}
