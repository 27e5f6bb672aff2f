package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Directory entries named like allowlists that are not files (issue 9, item 3): each is an error
 * that names it, and loading returns at once; a FIFO in particular is never opened, since
 * opening one for reading blocks until something writes to it.
 */
class AllowlistEntryFaultsTest {

    static final String GOOD = "server: app\nallow:\n  - host: api.example.com\n    ports: [443]\n";

    @TempDir
    Path dir;

    /** Loads {@code dir} on another thread, so that a load that blocks fails the test instead of hanging it. */
    PolicyException loadFails() throws Exception {
        CompletableFuture<Throwable> load = CompletableFuture.supplyAsync(() -> {
            try {
                AllowlistLoader.load(dir, GlobalDeny.BUILT_IN);
                return null;
            } catch (PolicyException e) {
                return e;
            }
        });
        Throwable thrown = load.get(Duration.ofSeconds(10).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(thrown).isInstanceOf(PolicyException.class);
        return (PolicyException) thrown;
    }

    @Test
    void aFifoNamedLikeAnAllowlistIsAnErrorNotAHang() throws Exception {
        Files.writeString(dir.resolve("app.yaml"), GOOD);
        Path fifo = dir.resolve("other.yaml");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertThat(mkfifo.waitFor()).isZero();

        assertThat(loadFails().errors()).singleElement().satisfies(e -> {
            assertThat(e.file()).isEqualTo(fifo.toString());
            assertThat(e.message()).contains("not a regular file");
        });
    }

    @Test
    void aDirectoryNamedLikeAnAllowlistIsAnError() throws Exception {
        Files.createDirectory(dir.resolve("app.yaml"));

        assertThat(loadFails().errors()).singleElement().satisfies(e ->
                assertThat(e.toString()).endsWith("app.yaml:1:1: is a directory, not an allowlist file;"
                        + " an allowlist is a file <server>.yaml"));
    }

    @Test
    void aDanglingSymlinkNamedLikeAnAllowlistIsAnError() throws Exception {
        Files.createSymbolicLink(dir.resolve("app.yaml"), dir.resolve("gone/app.yaml"));

        assertThat(loadFails().errors()).singleElement().satisfies(e ->
                assertThat(e.message()).contains("symbolic link to nothing"));
    }

    @Test
    void aSymlinkToAnAllowlistFileStillLoads() throws Exception {
        Path target = Files.writeString(Files.createDirectory(dir.resolve("..data")).resolve("app.yaml"), GOOD);
        Files.createSymbolicLink(dir.resolve("app.yaml"), target);

        assertThat(AllowlistLoader.load(dir, GlobalDeny.BUILT_IN).servers()).containsOnlyKeys("app");
        assertThatThrownBy(() -> AllowlistLoader.load(dir.resolve("missing"), GlobalDeny.BUILT_IN))
                .isInstanceOf(PolicyException.class).hasMessageContaining("no such file or directory");
    }
}
