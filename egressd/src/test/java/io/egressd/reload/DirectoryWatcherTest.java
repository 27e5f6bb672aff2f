package io.egressd.reload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The WatchService follows the allowlists directory through a delete and re-create, not only the poll. */
class DirectoryWatcherTest {

    @TempDir
    Path root;

    final ScheduledExecutorService poller = Executors.newSingleThreadScheduledExecutor(r -> new Thread(r, "poller"));
    /** onChange calls made by the WatchService's thread, as opposed to the poll's. */
    final AtomicInteger fromWatch = new AtomicInteger();
    DirectoryWatcher watcher;

    @AfterEach
    void close() {
        if (watcher != null) {
            watcher.close();
        }
        poller.shutdownNow();
    }

    @Test
    void aDeletedAndRecreatedDirectoryIsWatchedAgain() throws Exception {
        Path dir = Files.createDirectories(root.resolve("allowlists"));
        Files.writeString(dir.resolve("slack.yaml"), "server: slack\n");
        watcher = new DirectoryWatcher(dir, DirectoryFingerprint.of(dir), () -> {
            if (Thread.currentThread().getName().equals("egressd-policy-watch")) {
                fromWatch.incrementAndGet();
            }
        }, poller, Duration.ofMillis(200), true);
        watcher.start();
        assertThat(watcher.watching()).isTrue();

        deleteTree(dir);
        await("the watch of the deleted directory ends").atMost(Duration.ofSeconds(5))
                .until(() -> !watcher.watching());

        Files.createDirectories(dir);
        await("the re-created directory is watched again").atMost(Duration.ofSeconds(5))
                .until(watcher::watching);
        int before = fromWatch.get();
        Files.writeString(dir.resolve("github.yaml"), "server: github\n");
        await("the WatchService, not only the poll, reports a change in the re-created directory")
                .atMost(Duration.ofSeconds(5)).until(() -> fromWatch.get() > before);
    }

    static void deleteTree(Path dir) throws Exception {
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
