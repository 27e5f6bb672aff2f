package io.egressd.audit;

import java.io.OutputStream;
import java.nio.file.Path;

/** Where the audit trail is written: {@code audit.output} is {@code stdout} or a file path. */
public sealed interface AuditOutput {

    record Stdout() implements AuditOutput { }

    record RollingFile(Path file, AuditRotation rotation) implements AuditOutput { }

    /** Any stream; embedding and tests use it. The sink does not close it. */
    record Stream(OutputStream stream) implements AuditOutput { }

    /** The output {@code audit.output} names. */
    static AuditOutput of(String configured, AuditRotation rotation) {
        return configured == null || configured.equals("stdout")
                ? new Stdout() : new RollingFile(Path.of(configured), rotation);
    }
}
