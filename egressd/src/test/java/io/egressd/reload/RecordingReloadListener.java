package io.egressd.reload;

import io.egressd.policy.Policy;
import io.egressd.policy.ValidationError;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Keeps every load it is told about, for tests. */
final class RecordingReloadListener implements ReloadListener {

    record Event(boolean loaded, Trigger trigger, String version, List<ValidationError> errors) { }

    final List<Event> events = new CopyOnWriteArrayList<>();

    @Override
    public void loaded(Policy policy, Trigger trigger) {
        events.add(new Event(true, trigger, policy.version(), List.of()));
    }

    @Override
    public void rejected(Policy kept, List<ValidationError> errors, Trigger trigger) {
        events.add(new Event(false, trigger, kept.version(), errors));
    }

    long loaded(Trigger trigger) {
        return events.stream().filter(e -> e.loaded() && e.trigger() == trigger).count();
    }

    List<Event> rejections() {
        return events.stream().filter(e -> !e.loaded()).toList();
    }
}
