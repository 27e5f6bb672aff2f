package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * docs/allowlist.schema.json and the loader must not drift apart: every shipped allowlist
 * and every valid fixture passes both, and structurally broken files fail both.
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
