package io.egressd.reload;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The poll sees every name the loader reads or reports, so a reload reports it too. */
class DirectoryFingerprintTest {

    @TempDir
    Path dir;

    @Test
    void namesTheLoaderReportsChangeTheFingerprintOthersDoNot() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), "server: slack\n");
        List<String> before = DirectoryFingerprint.of(dir);

        Files.writeString(dir.resolve("README.md"), "notes\n");
        Files.writeString(dir.resolve(".slack.yaml.swp"), "swap\n");
        assertThat(DirectoryFingerprint.of(dir)).isEqualTo(before);

        // A case variant is a load error (AllowlistLoader), so adding one must trigger a reload.
        Files.writeString(dir.resolve("github.YAML"), "server: github\n");
        assertThat(DirectoryFingerprint.of(dir)).isNotEqualTo(before).anyMatch(p -> p.startsWith("github.YAML "));
        List<String> withUpper = DirectoryFingerprint.of(dir);
        Files.writeString(dir.resolve("postgres.yml"), "server: postgres\n");
        assertThat(DirectoryFingerprint.of(dir)).isNotEqualTo(withUpper);
    }
}
