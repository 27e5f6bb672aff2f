package io.egressd.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9, item 3: the allowlists go bad under the live daemon (the directory deleted, a file
 * truncated to invalid YAML, a file replaced by a directory, a file it cannot read). Each time
 * the last good policy keeps deciding (a real request through the proxy), the problem is
 * reported once (a stderr warning, a policy.rejected audit line, the failure counter) and not
 * again at every poll, /readyz stays ready, and restoring a good file reloads.
 *
 * <p>An unreadable file: the tests run as root, for whom chmod 000 blocks nothing. As root the
 * file is replaced by a FIFO (opening one for reading blocks until a writer comes: this hung the
 * reload thread before the loader refused entries that are not regular files) and by a symbolic
 * link to nothing (reading it fails as a file removed mid-read would); as anyone else, chmod 000.
 */
@ExtendWith(E2eExtension.class)
class PolicyFaultsIT {

    /** More than two polls (1 s each) and the coalescer's longest delay (2 s): time for a repeat to show. */
    static final Duration REPEAT_WINDOW = Duration.ofMillis(3500);
    static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    @TempDir
    Path dir;
    Path allowlists;
    Path file;
    HttpUpstream http;
    Egressd egressd;
    String good;
    int rejected;
    int loaded;

    @BeforeEach
    void start() throws Exception {
        http = new HttpUpstream();
        allowlists = Files.createDirectories(dir.resolve("allowlists"));
        file = allowlists.resolve("app.yaml");
        good = """
                server: app
                clients:
                  sources: [127.0.0.1/32]
                allow:
                  - cidr: 127.0.0.1/32
                    ports: [%d]
                """.formatted(http.port());
        PolicyReloadIT.save(file, good);
        egressd = Egressd.start(dir, """
                allowlists: allowlists
                listen:
                  http: 127.0.0.1:0
                  admin: 127.0.0.1:0
                """);
        loaded = 1;
        assertThat(decision()).isEqualTo("200");
    }

    @AfterEach
    void stop() throws Exception {
        Fixture.close(egressd, http);
    }

    private String decision() throws IOException {
        try (ProxyClient c = ProxyClient.open("127.0.0.1", egressd.proxyPort)) {
            ProxyClient.Response r = c.get(http.url("/faults"));
            return r.status() == 200 ? "200" : r.status() + " " + r.header("X-Egressd-Denied");
        }
    }

    private long count(String event) {
        return egressd.stdout().stream().filter(l -> l.contains("\"event\":\"" + event + "\"")).count();
    }

    private long warnings() {
        return egressd.stderr().stream().filter(l -> l.contains("policy reload (file) rejected, keeping policy "
                + egressd.version)).count();
    }

    /**
     * After {@code fault}: rejected once, with an error line naming {@code named}, then nothing
     * more while it persists; the old policy decides and the daemon stays ready. Then {@code
     * restore} reloads.
     */
    private void rejectedOnceThenRestored(String what, String named, Fault fault, Fault restore) throws Exception {
        fault.run();
        rejected++;
        await().alias(what + ": policy.rejected").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(50)).until(() -> count("policy.rejected") >= rejected);
        egressd.awaitStderr(l -> l.contains(named), Duration.ofSeconds(5));
        Thread.sleep(REPEAT_WINDOW.toMillis());

        assertThat(count("policy.rejected")).as(what + ": policy.rejected lines").isEqualTo(rejected);
        assertThat(warnings()).as(what + ": stderr warnings").isEqualTo(rejected);
        assertThat(egressd.metric("egressd_policy_reloads_total", "result", "failure")).as(what + ": failures")
                .isEqualTo(rejected);
        assertThat(count("policy.loaded")).as(what + ": nothing loaded").isEqualTo(loaded);
        assertThat(decision()).as(what + ": the last good policy decides").isEqualTo("200");
        assertThat(egressd.admin("/readyz").statusCode()).as(what + ": /readyz").isEqualTo(200);
        assertThat(egressd.alive()).isTrue();

        restore.run();
        loaded++;
        await().alias(what + ": restored, policy.loaded").atMost(Duration.ofSeconds(10))
                .pollInterval(Duration.ofMillis(50)).until(() -> count("policy.loaded") >= loaded);
        assertThat(decision()).isEqualTo("200");
        assertThat(count("policy.rejected")).as(what + ": no rejection after the restore").isEqualTo(rejected);
    }

    @FunctionalInterface
    interface Fault {
        void run() throws Exception;
    }

    private void restoreFile() throws IOException {
        deleteTree(file);
        PolicyReloadIT.save(file, good);
    }

    private static void deleteTree(Path path) throws IOException {
        if (!Files.exists(path, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> all = Files.walk(path)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    @Test
    void aTruncatedFileAFileReplacedByADirectoryAndAnUnreadableFileKeepTheLastGoodPolicy() throws Exception {
        rejectedOnceThenRestored("truncated", file + ":", () -> {
            // In place, as a full disk or a crashed writer leaves it: the YAML ends inside a flow sequence.
            byte[] bytes = good.getBytes(StandardCharsets.UTF_8);
            int cut = good.indexOf("ports: [") + "ports: [".length();
            Files.write(file, java.util.Arrays.copyOf(bytes, cut));
        }, this::restoreFile);

        rejectedOnceThenRestored("replaced by a directory", file + ":1:1: is a directory", () -> {
            Files.delete(file);
            Files.createDirectory(file);
            Files.writeString(file.resolve("inside.yaml"), good);
        }, this::restoreFile);

        if (ROOT) {
            rejectedOnceThenRestored("a FIFO", file + ":1:1: is not a regular file", () -> {
                Files.delete(file);
                Process mkfifo = new ProcessBuilder("mkfifo", file.toString()).inheritIO().start();
                assertThat(mkfifo.waitFor()).isZero();
            }, this::restoreFile);
            rejectedOnceThenRestored("a dangling symlink", file + ":1:1: is a symbolic link to nothing", () -> {
                Files.delete(file);
                Files.createSymbolicLink(file, dir.resolve("gone.yaml"));
            }, this::restoreFile);
        } else {
            rejectedOnceThenRestored("chmod 000", file + ":1:1: cannot read file", () ->
                    Files.setPosixFilePermissions(file, java.util.Set.of()), this::restoreFile);
        }
    }

    @Test
    void aDeletedAllowlistsDirectoryKeepsTheLastGoodPolicyUntilItIsBack() throws Exception {
        rejectedOnceThenRestored("directory deleted", allowlists + ":1:1: no such file or directory",
                () -> deleteTree(allowlists), () -> {
                    Files.createDirectories(allowlists);
                    PolicyReloadIT.save(file, good);
                });
        // Back, and watched again: an edit still applies.
        PolicyReloadIT.save(file, good.replace("ports: [", "ports: [1, "));
        await().atMost(Duration.ofSeconds(10)).until(() -> count("policy.loaded") >= loaded + 1);
    }
}
