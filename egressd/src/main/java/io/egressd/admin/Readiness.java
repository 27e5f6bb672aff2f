package io.egressd.admin;

import java.util.List;

/** What /readyz asks: which conditions are still unmet (empty: ready). */
@FunctionalInterface
public interface Readiness {

    /** Names of the unmet conditions, e.g. {@code [policy, dns]}; empty when ready. */
    List<String> waitingFor();

    default boolean ready() {
        return waitingFor().isEmpty();
    }
}
