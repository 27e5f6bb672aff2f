package io.egressd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.audit.AuditSchema;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Predicate;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/** Audit lines read back: each checked against docs/audit-event.schema.json, then counted and compared. */
final class AuditLines {

    private AuditLines() {
    }

    /** Parses every line, asserting first that each one validates against the schema. */
    static List<JsonNode> validated(List<String> lines) {
        Map<String, String> invalid = new LinkedHashMap<>();
        List<JsonNode> events = new ArrayList<>(lines.size());
        for (String line : lines) {
            List<com.networknt.schema.Error> errors = AuditSchema.errors(line);
            if (!errors.isEmpty() && invalid.size() < 10) {
                invalid.put(line, errors.toString());
            }
            events.add(AuditSchema.parse(line));
        }
        assertThat(invalid).as("audit lines that do not validate against docs/audit-event.schema.json").isEmpty();
        return events;
    }

    static Predicate<JsonNode> event(String name) {
        return e -> e.get("event").asString().equals(name);
    }

    static String text(JsonNode e, String field) {
        return e.has(field) ? e.get(field).asString() : "-";
    }

    /** How many events there are of each key, sorted by key. */
    static Map<String, Long> countBy(List<JsonNode> events, Function<JsonNode, String> key) {
        Map<String, Long> counts = new TreeMap<>();
        for (JsonNode e : events) {
            counts.merge(key.apply(e), 1L, Long::sum);
        }
        return counts;
    }

    /**
     * The event without its time, and with the client's port replaced by {@code *} (the client
     * address stays): what is left is fully determined by the request, so a test can spell it out.
     */
    static String withoutTimeAndClientPort(JsonNode e) {
        ObjectNode copy = ((ObjectNode) e).deepCopy();
        copy.remove("time");
        if (copy.has("client")) {
            String client = copy.get("client").asString();
            copy.put("client", client.substring(0, client.lastIndexOf(':')) + ":*");
        }
        return copy.toString();
    }

    /** The field names of an event, in the order written. */
    static List<String> fields(JsonNode e) {
        return List.copyOf(e.propertyNames());
    }
}
