package io.egressd.metrics;

import io.egressd.audit.AuditEvent;
import io.egressd.audit.AuditSink;

/** Counts each line into egressd_audit_events_total once the sink has accepted it. */
public final class CountingAuditSink implements AuditSink {

    private final AuditSink sink;
    private final EgressMetrics metrics;

    public CountingAuditSink(AuditSink sink, EgressMetrics metrics) {
        this.sink = sink;
        this.metrics = metrics;
    }

    @Override
    public void write(AuditEvent event, String line) {
        sink.write(event, line);
        metrics.audited(event);
    }

    @Override
    public void close() {
        sink.close();
    }
}
