package io.egressd.audit;

/**
 * One JSON object on one line. Values are escaped so that nothing a client sends (quotes,
 * backslashes, control characters, bidi overrides, lone surrogates) can end a value, start a
 * new line or spoof a terminal: everything outside printable ASCII becomes a {@code \\uXXXX}
 * escape, so every line is plain ASCII and valid JSON whatever the output encoding.
 */
final class JsonLine {

    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private final StringBuilder out = new StringBuilder(320).append('{');
    private boolean empty = true;

    /** Adds a string field; a null value leaves the field out. */
    JsonLine string(String name, String value) {
        if (value != null) {
            name(name);
            quote(out, value);
        }
        return this;
    }

    JsonLine number(String name, long value) {
        name(name);
        out.append(value);
        return this;
    }

    JsonLine bool(String name, boolean value) {
        name(name);
        out.append(value);
        return this;
    }

    /** The finished object, without a line terminator (the encoder adds it). */
    String end() {
        return out.append('}').toString();
    }

    private void name(String name) {
        if (!empty) {
            out.append(',');
        }
        empty = false;
        // Field names are AuditFormat's constants, plain ASCII: no escape to look for.
        out.append('"').append(name).append("\":");
    }

    static void quote(StringBuilder out, String s) {
        out.append('"');
        // Most values (server, rule, canonical host, policy version) need no escape: copy the
        // plain prefix in one call instead of a character at a time (audit lines are built on I/O threads).
        int plain = 0;
        while (plain < s.length() && needsNoEscape(s.charAt(plain))) {
            plain++;
        }
        out.append(s, 0, plain);
        for (int i = plain; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        out.append("\\u").append(HEX[c >> 12 & 0xf]).append(HEX[c >> 8 & 0xf])
                                .append(HEX[c >> 4 & 0xf]).append(HEX[c & 0xf]);
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }

    private static boolean needsNoEscape(char c) {
        return c >= 0x20 && c <= 0x7e && c != '"' && c != '\\';
    }
}
