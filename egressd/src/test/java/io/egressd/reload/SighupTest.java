package io.egressd.reload;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.policy.AllowlistLoader;
import io.egressd.policy.GlobalDeny;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGHUP reloads the policy (in a JVM of its own, so the signal never reaches the test runner). */
class SighupTest {

    @TempDir
    Path dir;

    Process probe;
    final BlockingQueue<String> lines = new LinkedBlockingQueue<>();

    @AfterEach
    void stop() throws InterruptedException {
        if (probe != null) {
            probe.destroy();
            if (!probe.waitFor(10, TimeUnit.SECONDS)) {
                probe.destroyForcibly();
            }
        }
    }

    String next() throws InterruptedException {
        String line = lines.poll(30, TimeUnit.SECONDS);
        assertThat(line).as("a line from the probe").isNotNull();
        return line;
    }

    void hup() throws Exception {
        Process kill = new ProcessBuilder("kill", "-HUP", Long.toString(probe.pid())).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).isZero();
    }

    @Test
    void sighupReloadsAndABrokenReloadKeepsThePolicy() throws Exception {
        Path file = dir.resolve("slack.yaml");
        Files.writeString(file, PolicyReloaderTest.SLACK);
        String v1 = AllowlistLoader.load(dir, GlobalDeny.BUILT_IN).version();
        // SIGHUP at its default in the probe, whatever this JVM inherited (a suite run under nohup ignores it).
        startProbe("--default-signal=HUP");

        assertThat(next()).isEqualTo("loaded startup " + v1);
        assertThat(next()).isEqualTo("ready " + probe.pid());

        Files.writeString(file, PolicyReloaderTest.SLACK_AND_API);
        String v2 = AllowlistLoader.load(dir, GlobalDeny.BUILT_IN).version();
        assertThat(v2).isNotEqualTo(v1);
        hup();
        assertThat(next()).isEqualTo("loaded signal " + v2);

        Files.writeString(file, PolicyReloaderTest.BROKEN);
        int errors = AllowlistLoader.check(List.of(dir)).size();
        hup();
        assertThat(next()).isEqualTo("rejected signal " + v2 + " " + errors);
        assertThat(probe.isAlive()).as("SIGHUP no longer ends the JVM").isTrue();
    }

    @Test
    void aProcessStartedWithSighupIgnoredSaysItCannotReloadOnSighup() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), PolicyReloaderTest.SLACK);
        String v1 = AllowlistLoader.load(dir, GlobalDeny.BUILT_IN).version();
        startProbe("--ignore-signal=HUP");

        assertThat(next()).isEqualTo("loaded startup " + v1);
        // Not "ready": the JVM would not install the handler, and install() must not pretend it did.
        assertThat(next()).isEqualTo("no-signals " + probe.pid());
    }

    private void startProbe(String envSignalOption) throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        probe = new ProcessBuilder("env", envSignalOption, java, "-cp", System.getProperty("java.class.path"),
                SighupProbe.class.getName(), dir.toString()).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(probe.getInputStream(),
                    StandardCharsets.UTF_8))) {
                r.lines().forEach(lines::add);
            } catch (Exception e) {
                lines.add("read failed: " + e);
            }
        });
        reader.setDaemon(true);
        reader.start();
    }
}
