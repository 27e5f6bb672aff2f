package io.egressd.reload;

import io.egressd.policy.Policy;
import io.egressd.policy.ValidationError;
import java.util.List;

/** Told about every policy load: audit writes policy.loaded / policy.rejected, metrics count them. */
public interface ReloadListener {

    ReloadListener NONE = new ReloadListener() { };

    /** {@code policy} is now in force. */
    default void loaded(Policy policy, Trigger trigger) {
    }

    /** The files failed validation; {@code kept} stays in force. {@code errors} is never empty. */
    default void rejected(Policy kept, List<ValidationError> errors, Trigger trigger) {
    }
}
