package io.egressd.reload;

import io.egressd.policy.Policy;
import io.egressd.policy.ValidationError;
import java.util.List;

/**
 * What one reload did.
 *
 * @param policy  the policy in force afterwards
 * @param errors  why the files were rejected; empty when they loaded
 * @param changed whether a new policy was swapped in or a rejection reported (false: the files were as before)
 */
public record ReloadOutcome(Policy policy, List<ValidationError> errors, boolean changed) {

    public ReloadOutcome {
        errors = List.copyOf(errors);
    }

    public boolean rejected() {
        return !errors.isEmpty();
    }
}
