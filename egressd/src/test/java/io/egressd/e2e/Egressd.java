package io.egressd.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.audit.AuditSchema;
import io.egressd.metrics.Exposition;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real daemon as a user runs it: {@code bin/egressd serve --config egressd.yaml} (the shaded
 * jar) in a directory of its own, its standard output (the audit trail, unless the config sends
 * it to a file) and standard error collected line by line, its listeners read off the ready line.
 */
final class Egressd implements AutoCloseable {

    static final Path ROOT = AuditSchema.ROOT;

    static final Pattern READY = Pattern.compile(
            "egressd: listening: proxy on 127\\.0\\.0\\.1:(?<proxy>\\d+)(?:, socks on 127\\.0\\.0\\.1:(?<socks>\\d+))?,"
                    + " dns on 127\\.0\\.0\\.1:(?<dns>\\d+) \\(udp\\+tcp\\)(?:, forwards on (?<forwards>[0-9.: ]+))?,"
                    + " admin on 127\\.0\\.0\\.1:(?<admin>\\d+); policy (?<version>[0-9a-f]{12}) with \\d+ servers?");

    /** Every daemon started by the running test class, for {@link E2eExtension} to show after a failure. */
    static final List<Egressd> STARTED = Collections.synchronizedList(new ArrayList<>());

    private final Process process;
    private final List<String> out = Collections.synchronizedList(new ArrayList<>());
    private final List<String> err = Collections.synchronizedList(new ArrayList<>());
    private final Thread outReader;
    private final Thread errReader;
    private final CompletableFuture<Matcher> ready = new CompletableFuture<>();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    final Path dir;
    final int proxyPort;
    final int dnsPort;
    final int adminPort;
    /** The SOCKS5 listener's port, 0 when listen.socks is off. */
    final int socksPort;
    /** Where the TCP forwards listen, in the policy's order ({@code 127.0.0.1:15432}). */
    final List<String> forwards;
    /** The policy version of the ready line: the one loaded at startup. */
    final String version;

    private Egressd(Path dir, Process process) throws IOException, InterruptedException {
        this.dir = dir;
        this.process = process;
        outReader = reader("egressd-stdout", process.getInputStream(), out::add);
        errReader = reader("egressd-stderr", process.getErrorStream(), line -> {
            err.add(line);
            Matcher m = READY.matcher(line);
            if (m.matches()) {
                ready.complete(m);
            }
        });
        Matcher m;
        try {
            m = ready.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            close();
            throw new AssertionError("egressd did not print its ready line; stderr:\n" + String.join("\n", err), e);
        }
        proxyPort = Integer.parseInt(m.group("proxy"));
        dnsPort = Integer.parseInt(m.group("dns"));
        adminPort = Integer.parseInt(m.group("admin"));
        socksPort = m.group("socks") == null ? 0 : Integer.parseInt(m.group("socks"));
        forwards = m.group("forwards") == null ? List.of() : List.of(m.group("forwards").split(" "));
        version = m.group("version");
    }

    /** Writes {@code dir/egressd.yaml} and starts {@code bin/egressd serve --config} on it; returns once it listens. */
    static Egressd start(Path dir, String config) throws IOException, InterruptedException {
        return start(dir, config, List.of());
    }

    /** As above, run under {@code prefix} (such as {@code prlimit --nofile=600 --}). */
    static Egressd start(Path dir, String config, List<String> prefix) throws IOException, InterruptedException {
        return start(dir, config, prefix, Map.of());
    }

    /** As above, with {@code env} added to the environment (such as {@code EGRESSD_JAVA_OPTS}). */
    static Egressd start(Path dir, String config, List<String> prefix, Map<String, String> env)
            throws IOException, InterruptedException {
        Path file = dir.resolve("egressd.yaml");
        Files.writeString(file, config);
        List<String> command = new ArrayList<>(prefix);
        command.addAll(List.of(ROOT.resolve("bin/egressd").toString(), "serve", "--config", file.toString()));
        ProcessBuilder builder = new ProcessBuilder(command).directory(dir.toFile());
        builder.environment().putAll(env);
        Process process = builder.start();
        process.getOutputStream().close();
        Egressd egressd = new Egressd(dir, process);
        STARTED.add(egressd);
        return egressd;
    }

    private Thread reader(String name, InputStream stream, Consumer<String> sink) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(stream, StandardCharsets.UTF_8),
                    1 << 16)) {
                String line;
                while ((line = r.readLine()) != null) {
                    sink.accept(line);
                }
            } catch (IOException e) {
                // The process is gone.
            } finally {
                ready.completeExceptionally(new IOException(name + " ended"));
            }
        }, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    long pid() {
        return process.pid();
    }

    InetSocketAddress proxy() {
        return new InetSocketAddress("127.0.0.1", proxyPort);
    }

    String proxyUrl() {
        return "http://127.0.0.1:" + proxyPort;
    }

    /** Standard output so far: the audit lines when audit.output is stdout. */
    List<String> stdout() {
        synchronized (out) {
            return List.copyOf(out);
        }
    }

    List<String> stderr() {
        synchronized (err) {
            return List.copyOf(err);
        }
    }

    /** Waits until standard error has a line {@code matching}, and returns it. */
    String awaitStderr(Predicate<String> matching, Duration atMost) {
        await().atMost(atMost).pollInterval(Duration.ofMillis(20))
                .until(() -> stderr().stream().anyMatch(matching));
        return stderr().stream().filter(matching).findFirst().orElseThrow();
    }

    /** GET on the admin listener. */
    HttpResponse<String> admin(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path))
                .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
    }

    String scrape() throws IOException, InterruptedException {
        HttpResponse<String> r = admin("/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        return r.body();
    }

    /** Labels from alternating names and values. */
    static Map<String, String> labels(String... pairs) {
        Map<String, String> labels = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            labels.put(pairs[i], pairs[i + 1]);
        }
        return labels;
    }

    /** The sum of the samples of {@code name} with these labels (alternating names and values), scraped now. */
    double metric(String name, String... labelPairs) throws IOException, InterruptedException {
        return Exposition.sum(scrape(), name, labels(labelPairs));
    }

    /** Sends a signal to the daemon's JVM ({@code bin/egressd} execs java, so this pid is the JVM's). */
    void kill(String signal) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(pid())).inheritIO().start();
        assertThat(kill.waitFor(10, TimeUnit.SECONDS)).isTrue();
        assertThat(kill.exitValue()).isZero();
    }

    /**
     * SIGTERM, as a container runtime stops it: the daemon closes its fronts and drains the audit
     * queue before it exits. Returns once its output has been read to the end.
     */
    void stop() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError("egressd did not stop within 30 s of SIGTERM");
        }
        outReader.join(10_000);
        errReader.join(10_000);
    }

    boolean alive() {
        return process.isAlive();
    }

    /** Waits (without signalling) for the process to exit and its output to be read to the end; its exit code. */
    int awaitExit(Duration atMost) throws InterruptedException {
        if (!process.waitFor(atMost.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("egressd did not exit within " + atMost);
        }
        outReader.join(10_000);
        errReader.join(10_000);
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
        outReader.join(5_000);
        errReader.join(5_000);
    }

    @Override
    public String toString() {
        return "egressd pid " + process.pid() + " in " + dir;
    }
}
