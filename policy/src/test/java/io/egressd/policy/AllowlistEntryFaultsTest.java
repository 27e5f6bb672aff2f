package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.common.net.InternetDomainName;
import java.io.File;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

/**
 * Directory entries named like allowlists that are not files (issue 9, item 3), and paths that
 * cannot be read: each is an error that names it with its exact message, and loading returns at
 * once; a FIFO in particular is never opened, since opening one for reading blocks until
 * something writes to it.
 */
class AllowlistEntryFaultsTest {

    static final String GOOD = "server: app\nallow:\n  - host: api.example.com\n    ports: [443]\n";

    @TempDir
    Path dir;

    /** Loads {@code dir} on another thread, so that a load that blocks fails the test instead of hanging it. */
    PolicyException loadFails() throws Exception {
        return loadFails(dir);
    }

    /** Loads {@code paths} on another thread, as {@link #loadFails()}. */
    static PolicyException loadFails(Path... paths) throws Exception {
        CompletableFuture<Throwable> load = CompletableFuture.supplyAsync(() -> {
            try {
                AllowlistLoader.load(List.of(paths), GlobalDeny.BUILT_IN);
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

        assertThat(loadFails().errors()).containsExactly(new ValidationError(fifo.toString(), 1, 1,
                "is not a regular file (a pipe, socket or device); an allowlist is a file <server>.yaml"));
    }

    @Test
    void aFifoGivenAsAnArgumentIsAnErrorNotAHang() throws Exception {
        Path fifo = dir.resolve("app.yaml");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        assertThat(mkfifo.waitFor()).isZero();

        assertThat(loadFails(fifo).errors()).containsExactly(new ValidationError(fifo.toString(), 1, 1,
                "not a file or directory (a pipe, socket or device); pass the allowlists directory"
                        + " or <server>.yaml files"));
    }

    @Test
    void aDirectoryNamedLikeAnAllowlistIsAnError() throws Exception {
        Files.createDirectory(dir.resolve("app.yaml"));

        assertThat(loadFails().errors()).containsExactly(new ValidationError(dir.resolve("app.yaml").toString(), 1, 1,
                "is a directory, not an allowlist file; an allowlist is a file <server>.yaml"));
    }

    @Test
    void aDanglingSymlinkNamedLikeAnAllowlistIsAnError() throws Exception {
        Path link = Files.createSymbolicLink(dir.resolve("app.yaml"), dir.resolve("gone/app.yaml"));

        assertThat(loadFails().errors()).containsExactly(new ValidationError(link.toString(), 1, 1,
                "is a symbolic link to nothing; point it at an allowlist file or remove it"));
        // Given as an argument, it is named as a link too, not as a path that does not exist.
        assertThat(loadFails(link).errors()).containsExactly(new ValidationError(link.toString(), 1, 1,
                "is a symbolic link to nothing; point it at an allowlist file or directory"));
    }

    @Test
    void anUnlistableDirectoryAndAnUnreadableFileAreNamed() throws Exception {
        Path locked = Files.createDirectory(dir.resolve("locked"));
        Files.writeString(locked.resolve("app.yaml"), GOOD);
        Path open = Files.createDirectory(dir.resolve("open"));
        Path unreadable = Files.writeString(open.resolve("app.yaml"), GOOD);
        Files.setPosixFilePermissions(locked, Set.of());
        Files.setPosixFilePermissions(unreadable, Set.of());
        try {
            assertThat(checkWithoutPrivileges(locked, open)).containsExactly(
                    locked + ":1:1: cannot list directory: permission denied",
                    unreadable + ":1:1: cannot read file: permission denied");
        } finally {
            Files.setPosixFilePermissions(locked, PosixFilePermissions.fromString("rwx------"));
            Files.setPosixFilePermissions(unreadable, PosixFilePermissions.fromString("rw-------"));
        }
    }

    /**
     * {@code egressd check}'s lines for {@code paths}, from a process that file permissions
     * apply to. Root reads through chmod 000 (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), and the
     * tests run as root in containers; without those two capabilities root is refused like
     * anyone. Other users are refused anyway.
     */
    static List<String> checkWithoutPrivileges(Path... paths) throws Exception {
        List<String> command = new ArrayList<>();
        if ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid") == 0) {
            command.addAll(List.of("setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"));
        }
        String classpath = Stream.of(CheckMain.class, AllowlistLoader.class, Yaml.class, InternetDomainName.class)
                .map(c -> {
                    try {
                        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
                    } catch (URISyntaxException e) {
                        throw new AssertionError(e);
                    }
                }).distinct().collect(Collectors.joining(File.pathSeparator));
        command.addAll(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", classpath, CheckMain.class.getName()));
        Stream.of(paths).map(Path::toString).forEach(command::add);
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        return out.lines().toList();
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
