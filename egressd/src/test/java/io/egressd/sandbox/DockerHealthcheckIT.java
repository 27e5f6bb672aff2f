package io.egressd.sandbox;

import static io.egressd.sandbox.DeployFiles.ROOT;
import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.sandbox.Netns.Lines;
import io.egressd.sandbox.Netns.Result;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image's HEALTHCHECK command, exactly as deploy/docker/Dockerfile writes it (only the
 * class directory and the admin port are this test's), run against a real `egressd serve`:
 * healthy while /healthz answers 200, unhealthy for any other answer or none.
 */
class DockerHealthcheckIT {

    static final Pattern ADMIN = Pattern.compile("admin on 127\\.0\\.0\\.1:(\\d+);");

    @TempDir
    Path dir;
    Process egressd;

    @BeforeEach
    void compileTheHealthcheckAsTheImageBuildDoes() {
        compileHealthcheck(dir.resolve("healthcheck"));
    }

    /** Healthcheck.java compiled into {@code out}, as the image's build stage compiles it. */
    static void compileHealthcheck(Path out) {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = javac.run(null, null, err, "--release", "17", "-d", out.toString(),
                ROOT.resolve("deploy/docker/Healthcheck.java").toString());
        assertThat(rc).as("javac: %s", err.toString(StandardCharsets.UTF_8)).isZero();
    }

    @AfterEach
    void stop() throws InterruptedException {
        if (egressd != null && egressd.isAlive()) {
            egressd.destroy();
            if (!egressd.waitFor(10, TimeUnit.SECONDS)) {
                egressd.destroyForcibly();
            }
        }
    }

    /** The Dockerfile's HEALTHCHECK CMD, with the class directory and admin port of this test. */
    private List<String> healthcheck(String url) throws Exception {
        DockerfileTest.read();
        List<String> command = new ArrayList<>(DockerfileTest.execForm(DockerfileTest.withKeyword("HEALTHCHECK").get(0)));
        assertThat(command.get(0)).isEqualTo("java");
        command.set(0, Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.set(command.indexOf("/opt/egressd/healthcheck"), dir.resolve("healthcheck").toString());
        String imageUrl = command.get(command.size() - 1);
        assertThat(imageUrl).isEqualTo("http://127.0.0.1:9464/healthz");
        command.set(command.size() - 1, url);
        return command;
    }

    private int startEgressd() throws Exception {
        Path allowlists = Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(allowlists.resolve("app.yaml"), "server: app\nallow:\n  - host: example.com\n");
        Path config = dir.resolve("egressd.yaml");
        Files.writeString(config, """
                allowlists: allowlists
                listen:
                  http: 127.0.0.1:0
                  dns: null
                  admin: 127.0.0.1:0
                """);
        egressd = new ProcessBuilder(ROOT.resolve("bin/egressd").toString(), "serve", "--config", config.toString())
                .start();
        egressd.getOutputStream().close();
        Lines out = new Lines();
        Lines err = new Lines();
        out.follow(egressd.getInputStream(), "egressd-out");
        err.follow(egressd.getErrorStream(), "egressd-err");
        String ready = err.await(l -> l.startsWith("egressd: listening: "), Duration.ofSeconds(30));
        assertThat(ready).as("ready line; stderr:\n%s", err).isNotNull();
        Matcher m = ADMIN.matcher(ready);
        assertThat(m.find()).as(ready).isTrue();
        return Integer.parseInt(m.group(1));
    }

    @Test
    void healthyWhileHealthzAnswers200AndUnhealthyOtherwise() throws Exception {
        int port = startEgressd();

        Result healthy = Netns.run(Duration.ofSeconds(30), healthcheck("http://127.0.0.1:" + port + "/healthz")
                .toArray(String[]::new));
        assertThat(healthy.exit()).as("%s", healthy).isZero();

        Result notFound = Netns.run(Duration.ofSeconds(30), healthcheck("http://127.0.0.1:" + port + "/nothing")
                .toArray(String[]::new));
        assertThat(notFound.exit()).isEqualTo(1);
        assertThat(notFound.err()).contains("answered 404");

        egressd.destroy();
        assertThat(egressd.waitFor(10, TimeUnit.SECONDS)).isTrue();
        Result down = Netns.run(Duration.ofSeconds(30), healthcheck("http://127.0.0.1:" + port + "/healthz")
                .toArray(String[]::new));
        assertThat(down.exit()).isEqualTo(1);
        assertThat(down.err()).contains("Connection refused");
    }
}
