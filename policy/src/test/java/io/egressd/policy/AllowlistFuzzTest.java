package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzzes the allowlist loader ({@link AllowlistLoader} over {@link YamlFile}) with arbitrary
 * file bytes: not UTF-8, NUL bytes, YAML aliases and tags, deep nesting, wrong types. For any
 * input it loads or throws {@link PolicyException}, nothing else, and every error names the
 * file and a line and column from 1 (a line no further than one past the file's last line).
 */
class AllowlistFuzzTest {

    private static final AtomicLong RUNS = new AtomicLong();
    private static Path dir;
    private static Path file;

    @BeforeAll
    static void directory() throws IOException {
        dir = Files.createTempDirectory("allowlist-fuzz");
        // The file name matches the seeds' "server: fuzz", so valid seeds load.
        file = dir.resolve("fuzz.yaml");
    }

    @FuzzTest(maxDuration = "2m")
    void load(byte[] input) throws IOException {
        RUNS.incrementAndGet();
        Files.write(file, input);
        List<ValidationError> errors;
        try {
            Policy policy = AllowlistLoader.load(List.of(file), GlobalDeny.BUILT_IN);
            assertThat(policy.server("fuzz")).as("the one server of a file that loads").isNotNull();
            return;
        } catch (PolicyException e) {
            errors = e.errors();
        }
        assertThat(errors).as("a rejected file names its problems").isNotEmpty();
        long lines = 1;
        for (byte b : input) {
            if (b == '\n' || b == '\r') {
                lines++;
            }
        }
        for (ValidationError error : errors) {
            assertThat(error.file()).isEqualTo(file.toString());
            assertThat(error.line()).as("line of %s", error).isBetween(1, (int) Math.min(Integer.MAX_VALUE, lines + 1));
            assertThat(error.column()).as("column of %s", error).isGreaterThanOrEqualTo(1);
            assertThat(error.message()).as("message of %s", error).isNotBlank();
        }
    }

    @AfterAll
    static void ranTheCorpus() throws IOException {
        Files.deleteIfExists(file);
        Files.deleteIfExists(dir);
        assertThat(RUNS.get()).as("inputs run").isGreaterThanOrEqualTo(Seeds.count(AllowlistFuzzTest.class, "load"));
    }
}
