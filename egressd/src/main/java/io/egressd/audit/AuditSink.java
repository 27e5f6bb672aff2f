package io.egressd.audit;

/** Where finished audit lines go. Implementations never drop a line: when behind, they block the caller. */
public interface AuditSink extends AutoCloseable {

    /** Writes one line (a JSON object without its line terminator). */
    void write(AuditEvent event, String line);

    /** Writes out every line already accepted, then releases the output. */
    @Override
    void close();
}
