package io.egressd.policy;

import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

/**
 * Strict reading of one YAML file into typed values, collecting every problem as a
 * {@link ValidationError} with the node's position instead of stopping at the first.
 * We walk snakeyaml's node graph rather than constructing Java objects, because only nodes
 * keep the line and column that make an error actionable.
 */
public final class YamlFile {

    static final int MAX_FILE_BYTES = 1 << 20;

    private final String file;
    private final List<ValidationError> errors;

    private YamlFile(String file, List<ValidationError> errors) {
        this.file = file;
        this.errors = errors;
    }

    /** The display name of the file, as errors name it. */
    public String file() {
        return file;
    }

    /** A reader for {@code displayName}; problems go to {@code errors}. */
    public static YamlFile of(String displayName, List<ValidationError> errors) {
        return new YamlFile(displayName, errors);
    }

    /** Parses the file's text into a node; null (with an error recorded) when it is not usable YAML. */
    public Node parse(String text) {
        LoaderOptions options = new LoaderOptions();
        options.setAllowDuplicateKeys(false);
        options.setMaxAliasesForCollections(20);
        options.setNestingDepthLimit(20);
        options.setCodePointLimit(MAX_FILE_BYTES);
        try {
            Node root = new Yaml(options).compose(new StringReader(text));
            if (root == null) {
                error(1, 1, "file is empty");
            }
            return root;
        } catch (MarkedYAMLException e) {
            Mark mark = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String problem = e.getProblem() != null ? e.getProblem() : e.getMessage();
            if (mark == null) {
                error(1, 1, "not valid YAML: " + problem);
            } else {
                error(mark.getLine() + 1, mark.getColumn() + 1, "not valid YAML: " + problem);
            }
        } catch (YAMLException e) {
            error(1, 1, "not valid YAML: " + e.getMessage());
        }
        return null;
    }

    /** Reads and parses a file; null (with an error recorded) when unreadable or not YAML. */
    public Node read(Path path) {
        byte[] bytes;
        try {
            if (Files.size(path) > MAX_FILE_BYTES) {
                error(1, 1, "file is larger than 1 MiB");
                return null;
            }
            bytes = Files.readAllBytes(path);
        } catch (IOException e) {
            error(1, 1, "cannot read file: " + describe(e));
            return null;
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            error(1, 1, "not UTF-8 text; allowlists and config are YAML files in UTF-8");
            return null;
        }
        if (text.indexOf('\0') >= 0) {
            error(1, 1, "not valid YAML: file contains NUL bytes");
            return null;
        }
        return parse(text);
    }

    static String describe(IOException e) {
        String kind = e.getClass().getSimpleName()
                .replace("NoSuchFileException", "no such file")
                .replace("AccessDeniedException", "permission denied");
        // A FileSystemException's message repeats the path the error line starts with; its reason is what is new.
        String detail = e instanceof FileSystemException fs ? fs.getReason() : e.getMessage();
        return detail == null ? kind : kind + " (" + detail + ")";
    }

    public void error(Node node, String message) {
        Mark mark = node.getStartMark();
        error(mark == null ? 1 : mark.getLine() + 1, mark == null ? 1 : mark.getColumn() + 1, message);
    }

    public void error(int line, int column, String message) {
        errors.add(new ValidationError(file, line, column, message));
    }

    /**
     * The entries of a mapping by key, reporting unknown keys (with a suggestion), duplicate
     * keys and non-string keys; null when {@code node} is not a mapping.
     */
    public Map<String, Node> mapping(Node node, String path, Set<String> known) {
        if (!(node instanceof MappingNode mapping)) {
            error(node, where(path) + "expected a mapping with keys " + String.join(", ", known)
                    + ", found " + describeNode(node));
            return null;
        }
        Map<String, Node> out = new LinkedHashMap<>();
        for (NodeTuple tuple : mapping.getValue()) {
            Node keyNode = tuple.getKeyNode();
            if (Tag.MERGE.equals(keyNode.getTag())) {
                error(keyNode, where(path) + "merge keys (<<) are not supported; write the keys out");
                continue;
            }
            if (!(keyNode instanceof ScalarNode keyScalar) || !Tag.STR.equals(keyNode.getTag())) {
                error(keyNode, where(path) + "keys must be plain names such as " + known.iterator().next()
                        + ", found " + describeNode(keyNode));
                continue;
            }
            String key = keyScalar.getValue();
            if (!known.contains(key)) {
                String hint = suggest(key, known);
                error(keyNode, where(path) + "unknown key \"" + key + "\""
                        + (hint == null ? "; known keys: " : "; did you mean \"" + hint + "\"? Known keys: ")
                        + String.join(", ", known));
                continue;
            }
            if (out.containsKey(key)) {
                error(keyNode, where(path) + "duplicate key \"" + key + "\"; write it once");
                continue;
            }
            out.put(key, tuple.getValueNode());
        }
        return out;
    }

    /** A list's items; null when {@code node} is not a sequence. */
    public List<Node> sequence(Node node, String path, String example) {
        if (node instanceof SequenceNode seq) {
            return seq.getValue();
        }
        error(node, path + ": expected a list, e.g. " + example + ", found " + describeNode(node));
        return null;
    }

    /** A non-empty string scalar; null when it is not one. */
    public String string(Node node, String path, String example) {
        if (node instanceof ScalarNode scalar && Tag.STR.equals(node.getTag()) && !scalar.getValue().isEmpty()) {
            return scalar.getValue();
        }
        error(node, path + ": expected a string, e.g. " + example + ", found " + describeNode(node));
        return null;
    }

    /** {@code true} or {@code false}, exactly; null otherwise. */
    public Boolean bool(Node node, String path) {
        if (node instanceof ScalarNode scalar && Tag.BOOL.equals(node.getTag())) {
            String v = scalar.getValue();
            if (v.equals("true")) {
                return Boolean.TRUE;
            }
            if (v.equals("false")) {
                return Boolean.FALSE;
            }
        }
        error(node, path + ": expected true or false, found " + describeNode(node));
        return null;
    }

    /** A decimal port 1-65535 without leading zeros; null otherwise. */
    public Integer port(Node node, String path) {
        if (node instanceof ScalarNode scalar) {
            String v = scalar.getValue();
            boolean decimal = !v.isEmpty() && v.length() <= 5 && v.chars().allMatch(c -> c >= '0' && c <= '9');
            if (decimal && Tag.INT.equals(node.getTag()) && v.charAt(0) != '0') {
                int port = Integer.parseInt(v);
                if (port <= 65535) {
                    return port;
                }
            }
            if (Tag.INT.equals(node.getTag())) {
                error(node, path + ": port " + v + " is not a port number; write a decimal number from 1 to 65535"
                        + " without leading zeros");
                return null;
            }
        }
        error(node, path + ": expected a port number from 1 to 65535, found " + describeNode(node));
        return null;
    }

    private static String where(String path) {
        return path.isEmpty() ? "" : path + ": ";
    }

    static String describeNode(Node node) {
        if (node instanceof MappingNode) {
            return "a mapping";
        }
        if (node instanceof SequenceNode) {
            return "a list";
        }
        ScalarNode scalar = (ScalarNode) node;
        if (Tag.NULL.equals(node.getTag())) {
            return "nothing";
        }
        String kind = Tag.STR.equals(node.getTag()) ? "string"
                : Tag.INT.equals(node.getTag()) ? "number"
                : Tag.BOOL.equals(node.getTag()) ? "boolean"
                : Tag.FLOAT.equals(node.getTag()) ? "number" : "value";
        String v = scalar.getValue();
        if (v.isEmpty()) {
            return "an empty " + kind;
        }
        if (v.length() > 60) {
            v = v.substring(0, 57) + "...";
        }
        return kind + " \"" + v + "\"";
    }

    /** The known key closest to a misspelt one, when close enough to be a typo. */
    static String suggest(String key, Set<String> known) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String candidate : known) {
            int d = distance(key.toLowerCase(java.util.Locale.ROOT), candidate);
            if (d < bestDistance) {
                bestDistance = d;
                best = candidate;
            }
        }
        return bestDistance <= Math.max(2, key.length() / 3) ? best : null;
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** Positions for cross-file messages: {@code allowlists/a.yaml:3:5}. */
    public String position(Node node) {
        Mark mark = node.getStartMark();
        return file + ":" + (mark.getLine() + 1) + ":" + (mark.getColumn() + 1);
    }

    static List<ValidationError> newErrors() {
        return new ArrayList<>();
    }
}
