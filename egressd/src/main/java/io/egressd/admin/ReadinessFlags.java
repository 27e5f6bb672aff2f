package io.egressd.admin;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Named conditions the daemon marks as they become true: {@code new ReadinessFlags("policy",
 * "http", "dns")}, then {@code met("policy")} after the first load, {@code met("http")} once that
 * listener is bound. Ready when all are met.
 */
public final class ReadinessFlags implements Readiness {

    private final List<String> conditions;
    // A concurrent map: the daemon's startup thread writes, admin and scrape threads read.
    private final Map<String, Boolean> met = new ConcurrentHashMap<>();

    public ReadinessFlags(String... conditions) {
        this.conditions = List.of(conditions);
    }

    public void met(String condition) {
        set(condition, true);
    }

    /** E.g. a listener that stopped. */
    public void unmet(String condition) {
        set(condition, false);
    }

    private void set(String condition, boolean value) {
        if (!conditions.contains(condition)) {
            throw new IllegalArgumentException("no readiness condition " + condition + " in " + conditions);
        }
        met.put(condition, value);
    }

    @Override
    public List<String> waitingFor() {
        List<String> waiting = new ArrayList<>();
        for (String c : conditions) {
            if (!met.getOrDefault(c, false)) {
                waiting.add(c);
            }
        }
        return waiting;
    }
}
