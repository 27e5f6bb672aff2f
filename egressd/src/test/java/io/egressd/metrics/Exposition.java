package io.egressd.metrics;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads samples back out of the Prometheus text format, as a scraper would. */
public final class Exposition {

    public record Sample(String name, Map<String, String> labels, double value) { }

    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)\\})?\\s+(\\S+).*$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

    private Exposition() {
    }

    public static List<Sample> parse(String text) {
        List<Sample> samples = new ArrayList<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            Matcher m = SAMPLE.matcher(line);
            if (!m.matches()) {
                throw new IllegalArgumentException("not a sample: " + line);
            }
            Map<String, String> labels = new LinkedHashMap<>();
            if (m.group(2) != null) {
                Matcher l = LABEL.matcher(m.group(2));
                while (l.find()) {
                    labels.put(l.group(1), l.group(2));
                }
            }
            samples.add(new Sample(m.group(1), labels, Double.parseDouble(m.group(3))));
        }
        return samples;
    }

    /** The sum of the samples of {@code name} whose labels include {@code match}. */
    public static double sum(String text, String name, Map<String, String> match) {
        return parse(text).stream()
                .filter(s -> s.name.equals(name) && s.labels.entrySet().containsAll(match.entrySet()))
                .mapToDouble(Sample::value).sum();
    }

    public static List<Sample> samples(String text, String name) {
        return parse(text).stream().filter(s -> s.name.equals(name)).toList();
    }
}
