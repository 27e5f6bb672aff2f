package io.egressd.sandbox;

import static io.egressd.sandbox.DeployFiles.ROOT;
import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.sandbox.Netns.Lines;
import io.egressd.sandbox.Netns.Result;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 6, point 1: egressd runs the way deploy/docker/Dockerfile makes the image run it, as
 * far as a machine without a Docker engine allows. In a mount and network namespace of its own
 * (unshare), with the Dockerfile's own words wherever they can be used:
 *
 * <ul>
 *   <li>the image's files at the image's paths: egressd.jar, the health check and Netty's
 *       native library under /opt/egressd, and every {@code COPY} from the build context (the
 *       baked-in /etc/egressd/egressd.yaml, the repository's allowlists at
 *       /etc/egressd/allowlists) bind-mounted where the Dockerfile copies it;</li>
 *   <li>the Dockerfile's capability setup, run as written (the statements of its RUN that set
 *       {@code cap_net_bind_service=+ep} on java and list the JRE's libraries for ld.so), on an
 *       overlay of this JVM's java home mounted where the Temurin image has its JRE
 *       ({@code /opt/java/openjdk}), so the host's java is untouched and secure-execution mode
 *       needs the ld.so cache as it does in the image;</li>
 *   <li>then every mount read-only except a {@code noexec} tmpfs at /tmp (stricter than
 *       {@code docker run --read-only --tmpfs /tmp}, which leaves /dev/shm writable);</li>
 *   <li>the Dockerfile's {@code USER} (uid/gid 10001, no supplementary groups), a bounding set
 *       of NET_BIND_SERVICE alone (compose's {@code cap_drop: [ALL]} + {@code cap_add}), its
 *       {@code EGRESSD_JAVA_OPTS}, {@code WORKDIR}, {@code ENTRYPOINT} and {@code CMD}.</li>
 * </ul>
 *
 * <p>What this cannot show, and only building the image would: the base image (Temurin's JRE
 * instead of this JVM), the Maven build stage, the class-data sharing archive (absent here; the
 * JVM ignores a missing one), and Docker's own mounts and seccomp profile. docs/deploy.md says so.
 *
 * <p>The network namespace has only its loopback: nothing egressd does can leave the machine.
 * Needs root; with {@code CI=true} it must run, elsewhere it is skipped with how to run it.
 */
class ImageRunIT {

    static final String HOW_TO_RUN = "the image-like run of egressd creates mount and network namespaces and"
            + " sets a file capability, which needs root. Run it as root: sudo mvn -B verify -pl egressd -am"
            + " -Dtest=NONE -Dsurefire.failIfNoSpecifiedTests=false -Dit.test=ImageRunIT"
            + " (needs util-linux, libcap2-bin, iproute2, curl and dnsutils; CI runs it as root with CI=true).";

    /** The bounding set and effective set egressd must have: CAP_NET_BIND_SERVICE (bit 10) alone. */
    static final String NET_BIND_SERVICE_ONLY = "0000000000000400";

    /** JAVA_HOME of the eclipse-temurin base image; java is on PATH there. */
    static final String IMAGE_JAVA_HOME = "/opt/java/openjdk";

    @TempDir
    static Path dir;

    static Process egressd;
    static Thread cleanupHook;
    static final Lines out = new Lines();
    static final Lines err = new Lines();
    static String path;
    static String javaHome;
    static String[] user;
    /** The address allowlists/slack.yaml claims (clients.sources): slack's in the compose gateway. */
    static String slackAddress;

    @BeforeAll
    static void startLikeTheImage() throws Exception {
        CiGuard.requireRoot(HOW_TO_RUN);
        path = CiGuard.toolPath("util-linux, libcap2-bin, iproute2, curl, dnsutils", HOW_TO_RUN,
                "unshare", "nsenter", "setpriv", "mount", "setcap", "getcap", "ldconfig", "ip", "curl", "dig");
        DockerfileTest.read();
        javaHome = Path.of(System.getProperty("java.home")).toRealPath().toString();
        user = value("USER").split(":");
        Object sources = DeployFiles.at(DeployFiles.load(ROOT.resolve("allowlists/slack.yaml")), "clients", "sources");
        slackAddress = ((String) DeployFiles.list(sources).get(0)).replaceAll("/32$", "");
        assertThat(user).as("USER uid:gid").hasSize(2);

        // What the build stage leaves in /out: the jar, the compiled health check, the natives.
        Path built = Files.createDirectories(dir.resolve("out"));
        Path jar = Path.of(System.getProperty("egressd.jar", ROOT.resolve("egressd/target/egressd.jar").toString()));
        assertThat(jar).as("the shaded jar (mvn package)").exists();
        Files.copy(jar, built.resolve("egressd.jar"));
        DockerHealthcheckIT.compileHealthcheck(built.resolve("healthcheck"));
        unpackNatives(jar, Files.createDirectories(built.resolve("native")));

        Path script = dir.resolve("image.sh");
        Files.writeString(script, script(built));
        List<String> command = new ArrayList<>(List.of("unshare", "--mount", "--net", "--propagation", "private",
                "/bin/sh", script.toString()));
        // The ENTRYPOINT, then the CMD, as Docker joins them.
        command.addAll(DockerfileTest.execForm(DockerfileTest.withKeyword("ENTRYPOINT").get(0)));
        command.addAll(DockerfileTest.execForm(DockerfileTest.withKeyword("CMD").get(0)));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("PATH", path);
        egressd = pb.start();
        cleanupHook = new Thread(() -> egressd.destroyForcibly(), "image-run-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanupHook);
        egressd.getOutputStream().close();
        out.follow(egressd.getInputStream(), "image-out");
        err.follow(egressd.getErrorStream(), "image-err");

        String listening = err.await(l -> l.startsWith("egressd: listening: "), Duration.ofSeconds(60));
        assertThat(listening).as("egressd's ready line; it printed:\n%s\n%s", err, out)
                .startsWith("egressd: listening: proxy on [0:0:0:0:0:0:0:0]:3128, dns on [0:0:0:0:0:0:0:0]:53"
                        + " (udp+tcp), ")
                .contains("admin on [0:0:0:0:0:0:0:0]:9464; policy ");
    }

    @AfterAll
    static void stopLikeDockerStop() throws Exception {
        if (egressd == null) {
            return;
        }
        // docker stop: SIGTERM to PID 1 (java, exec'd by the entrypoint), then a clean exit.
        // (Through the handle: Process.destroy() would also close the pipes its last lines come through.)
        egressd.toHandle().destroy();
        boolean exited = egressd.waitFor(30, TimeUnit.SECONDS);
        if (!exited) {
            egressd.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        Runtime.getRuntime().removeShutdownHook(cleanupHook);
        assertThat(exited).as("egressd stopped on SIGTERM").isTrue();
        assertThat(egressd.exitValue()).as("exit status; stderr:\n%s", err).isZero();
        assertThat(err.await("egressd: stopped"::equals, Duration.ofSeconds(5))).as("stderr:\n%s", err).isNotNull();
    }

    /** The value of a one-word Dockerfile instruction such as USER or WORKDIR (the last one). */
    static String value(String keyword) {
        List<String> found = DockerfileTest.withKeyword(keyword);
        assertThat(found).as(keyword).isNotEmpty();
        return found.get(found.size() - 1).substring(keyword.length() + 1).strip();
    }

    /** The instructions with this keyword in the last stage (the runtime image). */
    static List<String> runtimeStage(String keyword) {
        List<String> all = DockerfileTest.instructions;
        int from = 0;
        for (int i = 0; i < all.size(); i++) {
            if (all.get(i).startsWith("FROM ")) {
                from = i;
            }
        }
        return all.subList(from, all.size()).stream().filter(i -> i.startsWith(keyword + " ")).toList();
    }

    /** ENV EGRESSD_JAVA_OPTS="..." of the Dockerfile. */
    static String javaOpts() {
        String env = DockerfileTest.withKeyword("ENV").stream().filter(i -> i.startsWith("ENV EGRESSD_JAVA_OPTS=\""))
                .findFirst().orElseThrow();
        return env.substring("ENV EGRESSD_JAVA_OPTS=\"".length(), env.length() - 1);
    }

    /**
     * The statements of the Dockerfile's RUN that give java its capability and make it startable
     * in secure-execution mode; the package installation around them is the base image's business.
     */
    static List<String> capabilitySetup() {
        String run = DockerfileTest.instructions.stream().filter(i -> i.startsWith("RUN ") && i.contains("setcap"))
                .findFirst().orElseThrow();
        Pattern wanted = Pattern.compile("java_bin=|setcap |getcap |ld\\.so\\.conf|^ldconfig$");
        List<String> statements = Arrays.stream(run.substring(4).split(";\\s+"))
                .map(s -> s.replaceAll(";$", "").strip()).filter(s -> wanted.matcher(s).find()).toList();
        assertThat(statements).as("java_bin, setcap, getcap, the ld.so.conf list, ldconfig in: %s", run).hasSize(5);
        return statements;
    }

    private static String q(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    /**
     * The shell script that prepares the namespace as root and then execs the entrypoint ("$@")
     * as the image's user: all of it runs inside the private mount namespace, so nothing of it
     * is seen outside or outlives egressd.
     */
    static String script(Path built) {
        StringBuilder s = new StringBuilder();
        s.append("set -eu\n");
        // Scratch space for the overlays' upper layers: a tmpfs over a directory of our own.
        String scratch = dir.resolve("scratch").toString();
        s.append("mkdir -p ").append(q(scratch)).append("\n");
        s.append("mount -t tmpfs -o mode=0700 egressd-scratch ").append(q(scratch)).append("\n");
        for (String[] layer : List.of(new String[] {"etc", "/etc"}, new String[] {"opt", "/opt"},
                new String[] {"jvm", javaHome})) {
            String up = scratch + "/" + layer[0];
            s.append("mkdir -p ").append(q(up + "/up")).append(' ').append(q(up + "/work")).append("\n");
            s.append("mount -t overlay overlay -o ").append(q("lowerdir=" + layer[1] + ",upperdir=" + up + "/up,workdir="
                    + up + "/work")).append(' ').append(q(layer[1])).append("\n");
        }
        // This JVM where the Temurin image keeps its JRE. Not cosmetic: a binary with file
        // capabilities runs in secure-execution mode, where glibc expands java's $ORIGIN-relative
        // library path only inside trusted directories such as /usr/lib (where Debian keeps its
        // JDK) and not in /opt/java/openjdk: there java starts only thanks to the Dockerfile's ldconfig.
        s.append("mkdir -p ").append(q(IMAGE_JAVA_HOME)).append("\n");
        s.append("mount --bind ").append(q(javaHome)).append(' ').append(q(IMAGE_JAVA_HOME)).append("\n");
        // The Dockerfile's capability setup, as written.
        s.append("export JAVA_HOME=").append(q(IMAGE_JAVA_HOME)).append("\n");
        for (String statement : capabilitySetup()) {
            s.append(statement).append("\n");
        }
        // COPY --from=build /out/...: what the build stage made.
        for (String copy : runtimeStage("COPY")) {
            String[] words = copy.split("\\s+");
            if (copy.startsWith("COPY --from=build ")) {
                assertThat(words[2]).startsWith("/out/");
                String source = built.resolve(words[2].substring("/out/".length())).toString();
                s.append("mkdir -p ").append(q(Path.of(words[3]).getParent().toString())).append("\n");
                s.append("cp -R ").append(q(source.replaceAll("/$", "") + (words[2].endsWith("/") ? "/." : "")))
                        .append(' ').append(q(words[3])).append("\n");
            } else if (!copy.startsWith("COPY --")) {
                // COPY <context path> <image path>: the file itself, bind-mounted (read-only below).
                Path source = ROOT.resolve(words[1]);
                String target = words[2].replaceAll("/$", "");
                if (Files.isDirectory(source)) {
                    s.append("mkdir -p ").append(q(target)).append("\n");
                } else {
                    s.append("mkdir -p ").append(q(Path.of(target).getParent().toString())).append("\n");
                    s.append("touch ").append(q(target)).append("\n");
                }
                s.append("mount --bind ").append(q(source.toString())).append(' ').append(q(target)).append("\n");
            }
        }
        // The container's writable /tmp, noexec as Docker's --tmpfs mounts it; it also hides the
        // host's /tmp (and whatever this test keeps there).
        s.append("mount -t tmpfs -o mode=1777,nosuid,nodev,noexec egressd-tmp /tmp\n");
        // Everything else read-only: the root and every other mount, bind mounts included.
        s.append("""
                awk '{print $5}' /proc/self/mountinfo | sort -u | while read -r m; do
                  m=$(printf '%b' "$m")
                  case "$m" in /tmp|/tmp/*|/proc|/proc/*) continue;; esac
                  mount -o remount,bind,ro "$m" || { echo "cannot make $m read-only" >&2; exit 1; }
                done
                ip link set lo up
                """);
        s.append("ip addr add ").append(q(slackAddress + "/32")).append(" dev lo\n");
        s.append("cd ").append(q(value("WORKDIR"))).append("\n");
        s.append("exec env -i PATH=").append(q(IMAGE_JAVA_HOME + "/bin:/usr/sbin:/usr/bin:/sbin:/bin"))
                .append(" JAVA_HOME=").append(q(IMAGE_JAVA_HOME)).append(" HOME=/nonexistent")
                .append(" EGRESSD_JAVA_OPTS=").append(q(javaOpts())).append(' ')
                .append(String.join(" ", asImageUser())).append(" \"$@\"\n");
        return s.toString();
    }

    /** setpriv as the Dockerfile's USER with compose's capabilities: NET_BIND_SERVICE bounding, nothing else. */
    static List<String> asImageUser() {
        return List.of("setpriv", "--reuid=" + user[0], "--regid=" + user[1], "--clear-groups",
                "--bounding-set=-all,+net_bind_service", "--inh-caps=-all");
    }

    /** Netty's native libraries out of the jar, flat, as the Dockerfile's build stage unpacks them. */
    static void unpackNatives(Path jar, Path target) throws IOException {
        try (ZipInputStream zip = new ZipInputStream(Files.newInputStream(jar))) {
            for (ZipEntry e; (e = zip.getNextEntry()) != null; ) {
                if (e.getName().startsWith("META-INF/native/") && e.getName().endsWith(".so")) {
                    Files.copy((InputStream) zip, target.resolve(Path.of(e.getName()).getFileName()));
                }
            }
        }
        try (var files = Files.list(target)) {
            assertThat(files.count()).as("native libraries in %s", jar).isPositive();
        }
    }

    /** A command inside egressd's namespaces (network and mount), as root. */
    static Result inside(String... command) {
        List<String> full = new ArrayList<>(List.of("nsenter", "--target", String.valueOf(egressd.pid()), "--net",
                "--mount", "env", "-i", "PATH=" + IMAGE_JAVA_HOME + "/bin:" + path));
        full.addAll(List.of(command));
        return Netns.run(Duration.ofSeconds(30), full.toArray(String[]::new));
    }

    /** The same as the image's user, with the image's capabilities (as Docker runs HEALTHCHECK). */
    static Result insideAsImageUser(String... command) {
        List<String> full = new ArrayList<>(asImageUser());
        full.addAll(List.of(command));
        return inside(full.toArray(String[]::new));
    }

    static Map<String, String> status() throws IOException {
        Map<String, String> status = new TreeMap<>();
        for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(egressd.pid()), "status"))) {
            int colon = line.indexOf(':');
            status.put(line.substring(0, colon), line.substring(colon + 1).strip());
        }
        return status;
    }

    @Test
    void runsAsTheImagesUserWithOnlyTheCapabilityToBindLowPorts() throws Exception {
        assertThat(egressd.isAlive()).isTrue();
        Map<String, String> status = status();
        assertThat(status.get("Uid").split("\\s+")).containsOnly(user[0]);
        assertThat(status.get("Gid").split("\\s+")).containsOnly(user[1]);
        assertThat(status.get("Groups")).isEmpty();
        // From java's file capability (setcap +ep), not inherited: inheritable and ambient are empty.
        assertThat(status.get("CapEff")).isEqualTo(NET_BIND_SERVICE_ONLY);
        assertThat(status.get("CapPrm")).isEqualTo(NET_BIND_SERVICE_ONLY);
        assertThat(status.get("CapBnd")).isEqualTo(NET_BIND_SERVICE_ONLY);
        assertThat(status.get("CapInh")).isEqualTo("0000000000000000");
        assertThat(status.get("CapAmb")).isEqualTo("0000000000000000");
        Result getcap = inside("sh", "-c", "getcap \"$(readlink -f \"$(command -v java)\")\"");
        assertThat(getcap.out()).as("%s", getcap).contains("cap_net_bind_service=ep");
        // Netty's epoll library loads from /opt/egressd/native although /tmp is noexec.
        assertThat(err.all()).anyMatch(l -> l.contains("DNS filter on") && l.contains("epoll, recvmmsg/sendmmsg"));
    }

    @Test
    void answersDnsOnPort53AndProxiesOn3128AndTheHealthcheckPasses() throws Exception {
        // The repository's allowlists, read from /etc/egressd/allowlists, know the slack server by
        // its compose address, which this namespace's loopback also carries. Denied names are
        // answered locally, never asked upstream (and this namespace has no way upstream anyway).
        for (String transport : List.of("+notcp", "+tcp")) {
            // Asked at that address too: egressd's wildcard UDP socket answers from the address
            // the kernel picks for the client, which must be the one dig asked.
            Result dig = inside("dig", "@" + slackAddress, "-p", "53", "-b", slackAddress, transport, "+time=5",
                    "+tries=3", "exfil.attacker.example", "A");
            assertThat(dig.exit()).as("%s", dig).isZero();
            assertThat(dig.out()).contains("status: NXDOMAIN");
        }
        assertThat(out.await(l -> l.contains("\"event\":\"dns.denied\"") && l.contains("\"server\":\"slack\"")
                && l.contains("exfil.attacker.example"), Duration.ofSeconds(10))).as("audit on stdout:\n%s", out)
                .isNotNull();
        // An address no allowlist claims is nobody: REFUSED over UDP and TCP, audited as unknown_client.
        for (String transport : List.of("+notcp", "+tcp")) {
            String name = "nobody" + transport.substring(1) + ".attacker.example";
            Result nobody = inside("dig", "@127.0.0.1", "-p", "53", transport, "+time=5", "+tries=3", name, "A");
            assertThat(nobody.out()).as("%s", nobody).contains("status: REFUSED");
            assertThat(out.await(l -> l.contains("\"event\":\"dns.denied\"")
                    && l.contains("\"reason\":\"unknown_client\"") && l.contains(name), Duration.ofSeconds(10)))
                    .as("audit on stdout:\n%s", out).isNotNull();
        }

        Result proxy = inside("curl", "-sS", "-i", "--max-time", "10", "--interface", slackAddress,
                "-x", "http://127.0.0.1:3128", "http://exfil.attacker.example/");
        assertThat(proxy.exit()).as("%s", proxy).isZero();
        assertThat(proxy.out()).startsWith("HTTP/1.1 403 Forbidden")
                .containsIgnoringCase("X-Egressd-Denied: host_not_allowed");
        Result ready = inside("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
                "http://127.0.0.1:9464/readyz");
        assertThat(ready.out()).as("%s", ready).isEqualTo("200");

        // The HEALTHCHECK command exactly as the Dockerfile writes it, as the image's user.
        List<String> healthcheck = DockerfileTest.execForm(DockerfileTest.withKeyword("HEALTHCHECK").get(0));
        Result health = insideAsImageUser(healthcheck.toArray(String[]::new));
        assertThat(health.exit()).as("HEALTHCHECK %s: %s", healthcheck, health).isZero();
    }

    @Test
    void everythingButTmpIsReadOnlySoEgressdWroteNothingElsewhere() throws Exception {
        // The mount egressd sees at each mount point is the last one mounted there; /tmp hides
        // whatever was mounted under it before (the test's scratch space).
        Map<String, String> visible = new TreeMap<>();
        for (String line : Files.readAllLines(Path.of("/proc", String.valueOf(egressd.pid()), "mountinfo"))) {
            String[] f = line.split(" ");
            visible.put(f[4], f[5]);
        }
        assertThat(visible.get("/tmp").split(",")).contains("rw", "noexec");
        List<String> writable = visible.entrySet().stream()
                .filter(e -> !Arrays.asList(e.getValue().split(",")).contains("ro"))
                .map(Map.Entry::getKey)
                .filter(m -> !m.equals("/tmp") && !m.startsWith("/tmp/") && !m.equals("/proc") && !m.startsWith("/proc/"))
                .toList();
        assertThat(visible.get("/").split(",")).contains("ro");
        assertThat(writable).as("mounts egressd could write to, of %s", visible).isEmpty();
        // And in practice, for egressd's user: only /tmp takes a file.
        for (String where : List.of("/", "/etc/egressd/", "/etc/egressd/allowlists/", "/opt/egressd/", "/var/tmp/",
                "/dev/shm/", IMAGE_JAVA_HOME + "/")) {
            Result touch = insideAsImageUser("touch", where + "egressd-was-here");
            assertThat(touch.exit()).as("touch in %s: %s", where, touch).isNotZero();
            assertThat(touch.err()).contains("Read-only file system");
        }
        Result tmp = insideAsImageUser("touch", "/tmp/egressd-was-here");
        assertThat(tmp.exit()).as("%s", tmp).isZero();
        // Read-only all along, and egressd started and serves: it needs to write nothing outside /tmp.
        assertThat(egressd.isAlive()).isTrue();
        assertThat(err.all()).noneMatch(l -> l.contains("Read-only file system"));
    }
}
