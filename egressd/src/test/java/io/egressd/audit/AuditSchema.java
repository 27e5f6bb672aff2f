package io.egressd.audit;

import com.networknt.schema.Error;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** docs/audit-event.schema.json, and a JSON parser for reading audit lines back. */
public final class AuditSchema {

    public static final Path ROOT = Path.of(System.getProperty("egressd.repo.root", "..")).toAbsolutePath();
    public static final JsonMapper JSON = JsonMapper.builder().build();

    private static Schema schema;

    private AuditSchema() {
    }

    public static synchronized Schema schema() {
        if (schema == null) {
            try {
                schema = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12)
                        .getSchema(Files.readString(ROOT.resolve("docs/audit-event.schema.json")), InputFormat.JSON);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return schema;
    }

    /** Schema errors of one line; empty when it validates. */
    public static List<Error> errors(String line) {
        return schema().validate(line, InputFormat.JSON);
    }

    public static JsonNode parse(String line) {
        return JSON.readTree(line);
    }
}
