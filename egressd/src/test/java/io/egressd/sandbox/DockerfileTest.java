package io.egressd.sandbox;

import static io.egressd.sandbox.DeployFiles.ROOT;
import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.config.Config;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * deploy/docker/Dockerfile, read as text: no Docker engine runs here, so the image cannot be
 * built in the test suite. These checks tie the Dockerfile to the files it uses (the baked-in
 * egressd.yaml, the health check, the build context filter) so that they cannot drift apart.
 * DockerHealthcheckIT runs the HEALTHCHECK command itself against a real egressd.
 */
class DockerfileTest {

    static final Path DOCKER = ROOT.resolve("deploy/docker");

    static String dockerfile;
    static List<String> instructions;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void read() throws IOException {
        dockerfile = Files.readString(DOCKER.resolve("Dockerfile"));
        instructions = instructions(dockerfile);
    }

    /**
     * Instructions with continuation lines joined and comment lines dropped, as Docker parses
     * them; runs of white space become one space.
     */
    static List<String> instructions(String text) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : text.split("\n", -1)) {
            String trimmed = line.strip();
            if (trimmed.startsWith("#") || (trimmed.isEmpty() && current.length() == 0)) {
                continue;
            }
            if (trimmed.endsWith("\\")) {
                current.append(trimmed, 0, trimmed.length() - 1).append(' ');
                continue;
            }
            current.append(trimmed);
            if (current.length() > 0) {
                out.add(current.toString().strip().replaceAll("\\s+", " "));
            }
            current.setLength(0);
        }
        return out;
    }

    static List<String> withKeyword(String keyword) {
        return instructions.stream().filter(i -> i.startsWith(keyword + " ")).toList();
    }

    /** The image's config, loaded by egressd's own config loader. */
    static Config imageConfig() throws Exception {
        return DeployFiles.loadConfig(Files.readString(DOCKER.resolve("egressd.yaml")), tmp.resolve("image"));
    }

    /** Items of a JSON exec form: ["a", "b"]. */
    static List<String> execForm(String s) {
        Matcher m = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"").matcher(s.substring(s.indexOf('[')));
        List<String> out = new ArrayList<>();
        while (m.find()) {
            out.add(m.group(1).replace("\\\"", "\""));
        }
        return out;
    }

    @Test
    void buildsWithMavenThenRunsOnASlimJre() {
        List<String> from = withKeyword("FROM");
        assertThat(from).hasSize(2);
        assertThat(from.get(0)).isEqualTo("FROM ${MAVEN_IMAGE} AS build");
        assertThat(from.get(1)).isEqualTo("FROM ${JRE_IMAGE}");
        assertThat(withKeyword("ARG")).contains("ARG MAVEN_IMAGE=maven:3.9-eclipse-temurin-17",
                "ARG JRE_IMAGE=eclipse-temurin:17-jre-noble");
        String build = instructions.stream().filter(i -> i.contains("mvn ")).findFirst().orElseThrow();
        assertThat(build).contains("mvn -B -q -pl egressd -am package")
                .contains("cp egressd/target/egressd.jar /out/egressd.jar")
                .contains("javac --release 17 -d /out/healthcheck deploy/docker/Healthcheck.java");
        assertThat(withKeyword("COPY")).contains("COPY --from=build /out/egressd.jar /opt/egressd/egressd.jar",
                "COPY --from=build /out/healthcheck/ /opt/egressd/healthcheck/");
    }

    @Test
    void runsAsTheNonRootUserItCreates() {
        List<String> users = withKeyword("USER");
        assertThat(users).containsExactly("USER 10001:10001");
        String setup = instructions.stream().filter(i -> i.contains("useradd")).findFirst().orElseThrow();
        assertThat(setup).contains("groupadd --system --gid 10001 egressd")
                .contains("useradd --system --uid 10001 --gid egressd");
        // Everything after USER (the check RUN, ENTRYPOINT, HEALTHCHECK) runs as that user.
        assertThat(instructions.indexOf("USER 10001:10001"))
                .isLessThan(instructions.indexOf(withKeyword("ENTRYPOINT").get(0)));
    }

    @Test
    void grantsOnlyTheCapabilityToBindPort53AndKeepsJavaStartable() {
        String setup = instructions.stream().filter(i -> i.contains("setcap")).findFirst().orElseThrow();
        assertThat(setup).contains("setcap cap_net_bind_service=+ep \"$java_bin\"")
                .contains("java_bin=\"$(readlink -f \"$JAVA_HOME/bin/java\")\"")
                // secure-execution mode ignores $ORIGIN: the libraries must be in ld.so's cache
                .contains("> /etc/ld.so.conf.d/egressd-java.conf; ldconfig;");
        // The build fails if java cannot start as the non-root user with its capability.
        int user = instructions.indexOf("USER 10001:10001");
        int check = instructions.indexOf("RUN [\"java\", \"-XX:-UsePerfData\", \"-version\"]");
        assertThat(check).isGreaterThan(user);
    }

    @Test
    void exposesExactlyThePortsTheBakedInConfigListensOn() throws Exception {
        Config config = imageConfig();
        assertThat(withKeyword("EXPOSE")).containsExactly("EXPOSE 3128/tcp 53/udp 53/tcp 9464/tcp");
        assertThat(config.listen().http().getPort()).isEqualTo(3128);
        assertThat(config.listen().dns().getPort()).isEqualTo(53);
        assertThat(config.listen().admin().getPort()).isEqualTo(9464);
        // Reachable from other containers (the proxy and DNS) and by the health check on loopback.
        assertThat(config.listen().http().getAddress().isAnyLocalAddress()).isTrue();
        assertThat(config.listen().dns().getAddress().isAnyLocalAddress()).isTrue();
        assertThat(config.listen().admin().getAddress().isAnyLocalAddress()).isTrue();
    }

    @Test
    void readsItsConfigAndAllowlistsUnderEtcEgressd() throws Exception {
        assertThat(withKeyword("COPY")).contains("COPY deploy/docker/egressd.yaml /etc/egressd/egressd.yaml",
                "COPY allowlists/ /etc/egressd/allowlists/");
        assertThat(withKeyword("CMD")).containsExactly("CMD [\"serve\", \"--config\", \"/etc/egressd/egressd.yaml\"]");
        assertThat(imageConfig().allowlists()).isEqualTo(Path.of("/etc/egressd/allowlists"));
        assertThat(imageConfig().audit().output()).isEqualTo("stdout");
    }

    @Test
    void writesNothingOutsideTmp() {
        String env = withKeyword("ENV").stream().filter(i -> i.startsWith("ENV EGRESSD_JAVA_OPTS=")).findFirst()
                .orElseThrow();
        // No hsperfdata file; a crash report goes to /tmp.
        assertThat(env).contains("-XX:-UsePerfData").contains("-XX:ErrorFile=/tmp/hs_err_pid%p.log");
        // Netty's epoll library comes from the image, not unpacked into a (noexec) /tmp at start.
        assertThat(env).contains("-Djava.library.path=/opt/egressd/native");
        assertThat(withKeyword("COPY")).contains("COPY --from=build /out/native/ /opt/egressd/native/");
        assertThat(withKeyword("VOLUME")).containsExactly("VOLUME [\"/tmp\"]");
        assertThat(withKeyword("WORKDIR").get(withKeyword("WORKDIR").size() - 1)).isEqualTo("WORKDIR /tmp");
        // The entrypoint execs java so that SIGTERM reaches egressd as PID 1.
        List<String> entrypoint = execForm(withKeyword("ENTRYPOINT").get(0));
        assertThat(entrypoint).containsExactly("/bin/sh", "-c",
                "exec java $EGRESSD_JAVA_OPTS -jar /opt/egressd/egressd.jar \"$@\"",
                "egressd");
    }

    @Test
    void runsWithTheJvmOptionsAndMallocArenasOfBinEgressd() throws IOException {
        String script = Files.readString(ROOT.resolve("bin/egressd"));
        Matcher opts = Pattern.compile("(?m)^: \"\\$\\{EGRESSD_JAVA_OPTS:=(.*)}\"$").matcher(script);
        assertThat(opts.find()).as("bin/egressd's default EGRESSD_JAVA_OPTS").isTrue();
        Matcher arenas = Pattern.compile("(?m)^export MALLOC_ARENA_MAX=\"\\$\\{MALLOC_ARENA_MAX:-(\\d+)}\"$")
                .matcher(script);
        assertThat(arenas.find()).as("bin/egressd's MALLOC_ARENA_MAX").isTrue();
        // The image adds its own options (archive, library path, no perf data) after the shared ones.
        assertThat(withKeyword("ENV")).contains("ENV MALLOC_ARENA_MAX=" + arenas.group(1))
                .anySatisfy(env -> assertThat(env).startsWith("ENV EGRESSD_JAVA_OPTS=\"" + opts.group(1) + " "));
    }

    @Test
    void healthcheckGetsHealthzOnTheConfiguredAdminPortWithJava() throws Exception {
        List<String> healthchecks = withKeyword("HEALTHCHECK");
        assertThat(healthchecks).hasSize(1);
        String hc = healthchecks.get(0);
        assertThat(hc).startsWith("HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 CMD [");
        List<String> command = execForm(hc);
        assertThat(command.get(0)).isEqualTo("java");
        assertThat(command.subList(command.size() - 4, command.size())).containsExactly("-cp",
                "/opt/egressd/healthcheck", "Healthcheck",
                "http://127.0.0.1:" + imageConfig().listen().admin().getPort() + "/healthz");
        assertThat(Files.readString(DOCKER.resolve("Healthcheck.java"))).contains("public final class Healthcheck");
    }

    @Test
    void theBuildContextFilterKeepsWhatTheBuildReadsAndNothingElse() throws IOException {
        DockerIgnore ignore = DockerIgnore.read(DOCKER.resolve("Dockerfile.dockerignore"));
        // Every module of the parent pom (Maven reads them all, even with -pl).
        String pom = Files.readString(ROOT.resolve("pom.xml"));
        Matcher modules = Pattern.compile("<module>([^<]+)</module>").matcher(pom);
        List<String> needed = new ArrayList<>(List.of("pom.xml", "deploy/docker/Healthcheck.java",
                "deploy/docker/egressd.yaml", "allowlists/slack.yaml",
                "egressd/src/main/java/io/egressd/cli/Main.java", "policy/src/main/java/io/egressd/policy/Policy.java"));
        while (modules.find()) {
            needed.add(modules.group(1) + "/pom.xml");
        }
        for (String path : needed) {
            assertThat(ROOT.resolve(path)).exists();
            assertThat(ignore.excludes(path)).as("%s left out of the build context", path).isFalse();
        }
        for (String path : List.of("egressd/target/egressd.jar", "policy/target/classes/x.class", ".git/HEAD",
                "docs/config.md", "bench/jmh/src/main/java/X.java", "deploy/kubernetes/kustomization.yaml")) {
            assertThat(ignore.excludes(path)).as("%s sent to the build context", path).isTrue();
        }
        // And every COPY from the context is kept.
        for (String copy : withKeyword("COPY")) {
            if (!copy.startsWith("COPY --from")) {
                String source = copy.split("\\s+")[copy.startsWith("COPY --") ? 2 : 1];
                if (!source.equals(".")) {
                    assertThat(ignore.excludes(source.replaceAll("/$", ""))).as(copy).isFalse();
                }
            }
        }
    }

    /** The subset of .dockerignore semantics the file uses: last match wins, parents count. */
    record DockerIgnore(List<Pattern> patterns, List<Boolean> negated) {
        static DockerIgnore read(Path file) throws IOException {
            List<Pattern> patterns = new ArrayList<>();
            List<Boolean> negated = new ArrayList<>();
            for (String line : Files.readAllLines(file)) {
                String p = line.strip();
                if (p.isEmpty() || p.startsWith("#")) {
                    continue;
                }
                boolean neg = p.startsWith("!");
                p = (neg ? p.substring(1) : p).replaceAll("/+$", "");
                String regex = Pattern.compile("\\*\\*|\\*|\\?|[^*?]+").matcher(p).results()
                        .map(r -> switch (r.group()) {
                            case "**" -> ".*";
                            case "*" -> "[^/]*";
                            case "?" -> "[^/]";
                            default -> Pattern.quote(r.group());
                        }).collect(Collectors.joining());
                patterns.add(Pattern.compile(regex));
                negated.add(neg);
            }
            return new DockerIgnore(patterns, negated);
        }

        boolean excludes(String path) {
            boolean excluded = false;
            for (int i = 0; i < patterns.size(); i++) {
                if (matchesOrParentMatches(patterns.get(i), path)) {
                    excluded = !negated.get(i);
                }
            }
            return excluded;
        }

        private static boolean matchesOrParentMatches(Pattern p, String path) {
            String candidate = path;
            while (true) {
                if (p.matcher(candidate).matches()) {
                    return true;
                }
                int slash = candidate.lastIndexOf('/');
                if (slash < 0) {
                    return false;
                }
                candidate = candidate.substring(0, slash);
            }
        }
    }
}
