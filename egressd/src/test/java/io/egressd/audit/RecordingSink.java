package io.egressd.audit;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Keeps what it is given, for tests. */
public final class RecordingSink implements AuditSink {

    public record Line(AuditEvent event, String json) { }

    public final List<Line> lines = new CopyOnWriteArrayList<>();

    @Override
    public void write(AuditEvent event, String line) {
        lines.add(new Line(event, line));
    }

    public List<AuditEvent> events() {
        return lines.stream().map(Line::event).toList();
    }

    @Override
    public void close() {
    }
}
