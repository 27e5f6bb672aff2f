package io.egressd.daemon;

import io.egressd.audit.AuditHealth;
import io.egressd.policy.Policy;
import io.egressd.policy.Reason;
import java.util.function.Supplier;

/**
 * The policy as the fronts see it: the one in force while the audit output is written (or
 * while {@code audit.on_failure} is {@code continue}), and a copy of it that refuses every
 * destination with {@code audit_unavailable} while the output fails. The fronts read the
 * policy once per decision, so the gate closes for the next connection or query and opens
 * again as soon as a write succeeds; connections already open are left alone.
 */
final class AuditGate implements Supplier<Policy> {

    private final Supplier<Policy> policies;
    private final AuditHealth health;
    /** The last refusing copy, and the policy it was made from (a reload makes a new one). */
    private volatile Refusing refusing;

    private record Refusing(Policy base, Policy refusing) { }

    AuditGate(Supplier<Policy> policies, AuditHealth health) {
        this.policies = policies;
        this.health = health;
    }

    @Override
    public Policy get() {
        Policy policy = policies.get();
        if (health.healthy() || !health.refusesOnFailure()) {
            return policy;
        }
        Refusing r = refusing;
        if (r == null || r.base() != policy) {
            r = new Refusing(policy, policy.refusingAll(Reason.AUDIT_UNAVAILABLE));
            refusing = r;
        }
        return r.refusing();
    }
}
