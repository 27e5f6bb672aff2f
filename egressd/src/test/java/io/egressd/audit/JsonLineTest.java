package io.egressd.audit;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Whatever a client puts in a host or qname stays inside one JSON string value on one ASCII line. */
class JsonLineTest {

    @ParameterizedTest
    @ValueSource(strings = {
        "evil.example\",\"event\":\"egress.allowed",
        "back\\slash\\\"",
        "new\nline\r\n{\"event\":\"forged\"}",
        "nul\u0000bell\u0007esc\u001b[31mdel\u007f",
        "tab\tform\fback\b",
        "bidi\u202eelpmaxe.live",
        "c1\u0085\u009b",
        "b\u00fccher.example",
        "\u0441\u0431\u0435\u0440.\u0440\u0444",
        "emoji\ud83d\ude00.example",
        "lone\ud800surrogate\udc00",
        "line\u2028separator\u2029",
        "",
    })
    void hostileValuesRoundTripOnOneAsciiLine(String value) {
        String line = new JsonLine().string("host", value).number("port", 443).bool("would_deny", true).end();

        assertThat(line).doesNotContain("\n", "\r", "\u2028", "\u2029");
        assertThat(line.chars()).allMatch(c -> c >= 0x20 && c <= 0x7e);
        var node = AuditSchema.parse(line);
        assertThat(node.get("host").asString()).isEqualTo(value);
        assertThat(node.get("port").asInt()).isEqualTo(443);
        assertThat(node.get("would_deny").asBoolean()).isTrue();
        assertThat(node.size()).isEqualTo(3);
    }

    @ParameterizedTest
    @ValueSource(strings = {"a\"b", "\u0000", "\u00e9", "\ud83d\ude00"})
    void escapesAsJsonSpells(String value) {
        String line = new JsonLine().string("k", value).end();
        String expected = switch (value) {
            case "a\"b" -> "{\"k\":\"a\\\"b\"}";
            case "\u0000" -> "{\"k\":\"\\u0000\"}";
            case "\u00e9" -> "{\"k\":\"\\u00e9\"}";
            default -> "{\"k\":\"\\ud83d\\ude00\"}";
        };
        assertThat(line).isEqualTo(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {"api.github.com", "allowlists/slack.yaml#allow[1]", "a~ !#$%&'()*+,-./:;<=>?@[]^_`{|}z"})
    void printableAsciiOtherThanQuoteAndBackslashIsCopiedAsItIs(String value) {
        assertThat(new JsonLine().string("k", value).end()).isEqualTo("{\"k\":\"" + value + "\"}");
        // The plain prefix is copied whole; what follows an escape is still escaped one by one.
        assertThat(new JsonLine().string("k", value + "\"" + value + "\n").end())
                .isEqualTo("{\"k\":\"" + value + "\\\"" + value + "\\n\"}");
    }

    @ParameterizedTest
    @ValueSource(strings = {"skipped"})
    void nullValuesLeaveTheFieldOut(String name) {
        assertThat(new JsonLine().string("a", "x").string(name, null).string("b", "y").end())
                .isEqualTo("{\"a\":\"x\",\"b\":\"y\"}");
    }
}
