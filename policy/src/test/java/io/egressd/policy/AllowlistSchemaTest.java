package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * docs/allowlist.schema.json and the loader must not drift apart: every shipped allowlist,
 * valid fixture, valid fuzz seed and documented example passes both; every invalid fixture
 * fails the loader, and the schema too unless only the loader can see why ({@link #LOADER_ONLY}).
 */
class AllowlistSchemaTest {

    static final Path ROOT = Path.of(System.getProperty("egressd.repo.root", "..")).toAbsolutePath();
    static Schema schema;

    @BeforeAll
    static void loadSchema() throws IOException {
        schema = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12)
                .getSchema(Files.readString(ROOT.resolve("docs/allowlist.schema.json")), InputFormat.JSON);
    }

    static Stream<Path> shippedAndFixtures() throws IOException {
        Path fixtures = ROOT.resolve("policy/src/test/resources/allowlists-valid");
        Stream<Path> shipped = Files.list(ROOT.resolve("allowlists")).filter(p -> p.toString().endsWith(".yaml"));
        Stream<Path> valid = Files.exists(fixtures)
                ? Files.walk(fixtures).filter(p -> p.toString().endsWith(".yaml")) : Stream.empty();
        return Stream.concat(shipped, valid).sorted();
    }

    @Test
    void thereIsSomethingToCheck() throws IOException {
        assertThat(shippedAndFixtures().filter(p -> p.startsWith(ROOT.resolve("allowlists"))))
                .hasSizeGreaterThanOrEqualTo(8);
    }

    @ParameterizedTest
    @MethodSource("shippedAndFixtures")
    void validFilesPassTheSchemaAndTheLoader(Path file) throws Exception {
        assertThat(schema.validate(Files.readString(file), InputFormat.YAML)).as(file.toString()).isEmpty();
        assertThat(AllowlistLoader.check(List.of(file))).as(file.toString()).isEmpty();
    }

    /**
     * Invalid fixtures (allowlists-invalid/&lt;case&gt;/&lt;file&gt;) that the schema cannot reject, each
     * with the reason only the loader can: the schema sees one file's structure, not its name,
     * other files, DNS semantics, the Public Suffix List, or the YAML beneath the JSON data.
     * Every other invalid fixture must fail the schema; a new one that does not must be added
     * here with its reason, or the schema tightened.
     */
    static final Map<String, String> LOADER_ONLY = Map.ofEntries(
            Map.entry("server-mismatch/slack.yaml", "server must equal the file name, which the schema never sees"),
            Map.entry("always-denied-host/slack.yaml", "localhost, metadata.google.internal, *.local and *.arpa"
                    + " are well-formed names; the always-denied list is the loader's (and *.localhost is a"
                    + " wildcard over a top-level domain, which needs the Public Suffix List)"),
            Map.entry("public-suffix-wildcard/slack.yaml", "*.co.uk and *.com are well-formed wildcards; that"
                    + " co.uk and com are public suffixes is in the Public Suffix List, which the loader reads"),
            Map.entry("cidr-host-bits/slack.yaml", "10.20.1.0/16 is a well-formed range; that its host bits are"
                    + " set is arithmetic a pattern cannot do"),
            Map.entry("duplicate-key/slack.yaml", "a duplicate key is gone once YAML is JSON data (the last"
                    + " one wins), so the schema never sees it; the loader reads YAML nodes"),
            Map.entry("duplicate-server/team-a/slack.yaml", "valid alone; the clash is with team-b/slack.yaml"),
            Map.entry("duplicate-server/team-b/slack.yaml", "valid alone; the clash is with team-a/slack.yaml"),
            Map.entry("overlapping-sources/github.yaml", "valid alone; its sources overlap slack.yaml's"),
            Map.entry("overlapping-sources/slack.yaml", "valid alone; its sources overlap github.yaml's"),
            Map.entry("same-proxy-user/github.yaml", "valid alone; slack.yaml has the same proxy_user"),
            Map.entry("same-proxy-user/slack.yaml", "valid alone; github.yaml has the same proxy_user"));

    static Stream<Path> invalidFixtures() throws IOException {
        Path root = ROOT.resolve("policy/src/test/resources/allowlists-invalid");
        try (Stream<Path> files = Files.walk(root)) {
            return files.filter(Files::isRegularFile).sorted().toList().stream();
        }
    }

    static String fixtureName(Path file) {
        return ROOT.resolve("policy/src/test/resources/allowlists-invalid").relativize(file).toString();
    }

    /** Whether the schema rejects a file: errors, or no JSON data at all (not YAML, empty, an alias bomb). */
    static boolean schemaRejects(Path file) throws IOException {
        String text = Files.readString(file);
        try {
            return !schema.validate(text, InputFormat.YAML).isEmpty();
        } catch (RuntimeException e) {
            return true;
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("invalidFixtures")
    void everyInvalidFixtureFailsTheSchemaUnlessOnlyTheLoaderCanSeeWhy(Path file) throws IOException {
        String name = fixtureName(file);
        String reason = LOADER_ONLY.get(name);
        if (reason == null) {
            assertThat(schemaRejects(file)).as("docs/allowlist.schema.json accepts the invalid fixture %s: tighten"
                    + " the schema, or add the fixture to LOADER_ONLY with the reason only the loader can see", name)
                    .isTrue();
        } else {
            assertThat(schemaRejects(file)).as("the schema rejects %s, listed as loader-only (%s): remove it from"
                    + " LOADER_ONLY", name, reason).isFalse();
        }
        // Whatever the schema says, the loader rejects the case: its directory, or its directories.
        Path caseDir = ROOT.resolve("policy/src/test/resources/allowlists-invalid").resolve(Path.of(name).getName(0));
        List<Path> paths;
        try (Stream<Path> entries = Files.list(caseDir)) {
            List<Path> dirs = entries.filter(Files::isDirectory).sorted().toList();
            paths = dirs.isEmpty() ? List.of(caseDir) : dirs;
        }
        assertThat(AllowlistLoader.check(paths)).as("loader on " + paths).isNotEmpty();
    }

    @Test
    void everyLoaderOnlyCaseIsAFixture() throws IOException {
        assertThat(invalidFixtures().map(AllowlistSchemaTest::fixtureName).toList())
                .containsAll(LOADER_ONLY.keySet()).hasSizeGreaterThan(LOADER_ONLY.size() + 20);
    }

    /**
     * Files meant to be valid outside the shipped ones: the allowlist fuzz test's valid seeds,
     * and every allowlist example in README.md and docs/ (a yaml block with top-level
     * {@code server:} and {@code allow:}), as {@code name} and text.
     */
    static Stream<Arguments> examples() throws IOException {
        List<Arguments> out = new ArrayList<>();
        Path seeds = ROOT.resolve("policy/src/test/resources/io/egressd/policy/AllowlistFuzzTestInputs/load");
        try (Stream<Path> files = Files.list(seeds)) {
            for (Path seed : files.filter(p -> p.getFileName().toString().startsWith("valid_")).sorted().toList()) {
                out.add(Arguments.of(ROOT.relativize(seed).toString(), Files.readString(seed)));
            }
        }
        List<Path> docs = new ArrayList<>(List.of(ROOT.resolve("README.md")));
        try (Stream<Path> files = Files.list(ROOT.resolve("docs"))) {
            files.filter(p -> p.toString().endsWith(".md")).sorted().forEach(docs::add);
        }
        for (Path doc : docs) {
            List<String> lines = Files.readAllLines(doc);
            for (int i = 0; i < lines.size(); i++) {
                if (!lines.get(i).equals("```yaml")) {
                    continue;
                }
                int start = i + 1;
                StringBuilder block = new StringBuilder();
                for (i = start; i < lines.size() && !lines.get(i).startsWith("```"); i++) {
                    block.append(lines.get(i)).append('\n');
                }
                String text = block.toString();
                if (text.matches("(?s)(.*\n)?server: [a-z].*") && text.matches("(?s)(.*\n)?allow:.*")) {
                    out.add(Arguments.of(ROOT.relativize(doc) + ":" + start, text));
                }
            }
        }
        return out.stream();
    }

    @Test
    void theExamplesAreFound() throws IOException {
        assertThat(examples().map(a -> (String) a.get()[0]))
                .anyMatch(n -> n.startsWith("README.md:"))
                .anyMatch(n -> n.startsWith("docs/allowlists.md:"))
                .anyMatch(n -> n.startsWith("docs/socks-and-forwards.md:"))
                .filteredOn(n -> n.contains("valid_")).hasSize(4);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("examples")
    void examplesMeantToBeValidPassTheSchemaAndTheLoader(String name, String yaml, @TempDir Path dir)
            throws IOException {
        assertThat(schema.validate(yaml, InputFormat.YAML)).as(name).isEmpty();
        String server = yaml.lines().filter(l -> l.startsWith("server: ")).findFirst().orElseThrow()
                .substring("server: ".length()).replaceAll("\\s*#.*", "").strip();
        Path file = Files.writeString(dir.resolve(server + ".yaml"), yaml);
        assertThat(AllowlistLoader.check(List.of(file))).as(name).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "server: t\nallow: [{host: '*.slack.com'}]",
        "server: t\nallow: [{host: db.internal.example.com, ports: [5432], private: true}]",
        "server: t\nallow: [{cidr: '2001:db8::/32', ports: [443, 8443]}]",
        "server: t\nmode: report\ndescription: curated\nallow: []",
        "server: t\nclients: {sources: [172.30.0.11/32, 'fd00::/8'], proxy_user: t.bot,"
                + " token_sha256: 5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8}",
        "server: t\nallow: [{host: db.example.com, ports: [5432]}]\n"
                + "forwards: [{listen: 127.0.0.1:15432, to: db.example.com:5432}]",
        "server: t\nallow: [{cidr: '2001:db8::/32', ports: [5432]}]\n"
                + "forwards: [{listen: '[::1]:15432', to: '[2001:db8::5]:5432'}]",
    })
    void bothAccept(String yaml, @TempDir Path dir) throws Exception {
        Path file = dir.resolve("t.yaml");
        Files.writeString(file, yaml);
        assertThat(schema.validate(yaml, InputFormat.YAML)).as(yaml).isEmpty();
        assertThat(AllowlistLoader.check(List.of(file))).as(yaml).isEmpty();
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "description: no server\nallow: []",
        "server: t\nalow: []",
        "server: t\nmode: audit",
        "server: t\nallow: {host: slack.com}",
        "server: t\nallow: [{host: slack.com, cidr: 10.0.0.0/8}]",
        "server: t\nallow: [{ports: [443]}]",
        "server: t\nallow: [{host: slack.com, ports: [0]}]",
        "server: t\nallow: [{host: slack.com, ports: [65536]}]",
        "server: t\nallow: [{host: slack.com, ports: []}]",
        "server: t\nallow: [{host: slack.com, ports: [443, 443]}]",
        "server: t\nallow: [{host: slack.com, ports: ['443']}]",
        "server: t\nallow: [{host: slack.com, private: 'yes'}]",
        "server: t\nallow: [{cidr: 10.0.0.0/8, private: true}]",
        "server: t\nallow: [{host: slack.com, extra: 1}]",
        "server: t\nallow: [{host: '*'}]",
        "server: t\nallow: [{host: 'a.*.com'}]",
        "server: t\nallow: [{host: 'exa mple.com'}]",
        "server: t\nallow: [{host: 'b\u00fccher.example'}]",
        "server: t\nallow: [{host: '192.0.2.1'}]",
        "server: t\nallow: [{host: slack.com.1}]",
        "server: t\nallow: [{host: '0x7f.1'}]",
        "server: t\nallow: [{host: '*.0X1'}]",
        "server: t\nclients: {proxy_user: t}",
        "server: t\nclients: {proxy_user: t, token_sha256: abc}",
        "server: t\nclients: {sources: 10.0.0.0/8}",
        "server: T\nallow: []",
        "server: t\nallow: [{host: db.example.com, ports: [5432]}]\nforwards: {listen: 127.0.0.1:15432}",
        "server: t\nallow: [{host: db.example.com, ports: [5432]}]\nforwards: [{listen: 127.0.0.1:15432}]",
        "server: t\nallow: [{host: db.example.com, ports: [5432]}]\n"
                + "forwards: [{listen: 'db.example.com:15432', to: db.example.com:5432}]",
        "server: t\nallow: [{host: db.example.com, ports: [5432]}]\n"
                + "forwards: [{listen: 127.0.0.1:0, to: db.example.com:5432}]",
        "server: t\nallow: [{host: db.example.com, ports: [5432]}]\n"
                + "forwards: [{listen: 127.0.0.1:15432, to: db.example.com}]",
        "server: t\nallow: [{host: db.example.com, ports: [5432]}]\n"
                + "forwards: [{listen: 127.0.0.1:15432, to: db.example.com:5432, via: x}]",
    })
    void bothReject(String yaml, @TempDir Path dir) throws Exception {
        Path file = dir.resolve("t.yaml");
        Files.writeString(file, yaml);
        assertThat(schema.validate(yaml, InputFormat.YAML)).as("schema on:\n" + yaml).isNotEmpty();
        assertThat(AllowlistLoader.check(List.of(file))).as("loader on:\n" + yaml).isNotEmpty();
    }
}
