package io.egressd.policy;

/** One problem in a policy or config file, printed as {@code file:line:column: message} (1-based). */
public record ValidationError(String file, int line, int column, String message) implements Comparable<ValidationError> {

    @Override
    public String toString() {
        return file + ":" + line + ":" + column + ": " + message;
    }

    @Override
    public int compareTo(ValidationError o) {
        int c = file.compareTo(o.file);
        if (c == 0) {
            c = Integer.compare(line, o.line);
        }
        if (c == 0) {
            c = Integer.compare(column, o.column);
        }
        return c;
    }
}
