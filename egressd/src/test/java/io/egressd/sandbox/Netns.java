package io.egressd.sandbox;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The network namespaces, veth links and processes of one sandbox run, and their removal.
 *
 * <p>Every namespace is named {@code egsb<pid>-<role>}, with the pid of the JVM that made it.
 * Links are created with both ends already inside namespaces ({@code ip -n A link add ... peer
 * ... netns B}), so nothing ever appears in the root namespace, and deleting a namespace
 * deletes its links. {@link #close()} stops the processes this run started, kills whatever is
 * still running inside its namespaces (only processes it started can be there), deletes the
 * namespaces and their {@code /etc/netns/<name>} directories. {@link #removeLeftovers()} does
 * the same for namespaces of a run whose JVM is gone (a crashed or killed earlier run).
 */
final class Netns implements AutoCloseable {

    static final String PREFIX = "egsb";
    private static final Pattern OURS = Pattern.compile("^(" + PREFIX + "(\\d+)-[a-z]+)\\b.*");
    private static final Path ETC_NETNS = Path.of("/etc/netns");

    /** What a finished command printed and returned. */
    record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    /** Lines a long-running process prints, collected as they come. */
    static final class Lines {
        private final List<String> lines = new CopyOnWriteArrayList<>();

        void follow(InputStream in, String name) {
            Thread t = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        lines.add(line);
                    }
                } catch (IOException ignored) {
                    // The process ended.
                }
            }, name);
            t.setDaemon(true);
            t.start();
        }

        List<String> all() {
            return List.copyOf(lines);
        }

        /** Waits for a line that matches; null when none came in time. */
        String await(Predicate<String> match, Duration timeout) throws InterruptedException {
            long deadline = System.nanoTime() + timeout.toNanos();
            do {
                for (String line : lines) {
                    if (match.test(line)) {
                        return line;
                    }
                }
                Thread.sleep(50);
            } while (System.nanoTime() < deadline);
            return null;
        }

        @Override
        public String toString() {
            return String.join("\n", lines);
        }
    }

    private final String id = PREFIX + ProcessHandle.current().pid();
    private final List<String> namespaces = new ArrayList<>();
    private final List<Process> processes = new CopyOnWriteArrayList<>();
    private final boolean etcNetnsExisted = Files.isDirectory(ETC_NETNS);

    /** Creates namespace {@code egsb<pid>-<role>} with its loopback up; returns its name. */
    String add(String role) {
        String name = id + "-" + role;
        namespaces.add(name);
        check(run(Duration.ofSeconds(10), "ip", "netns", "add", name));
        check(run(Duration.ofSeconds(10), "ip", "-n", name, "link", "set", "lo", "up"));
        return name;
    }

    /** A veth pair between two of our namespaces, each end with its address (CIDR form) and up. */
    void link(String nsA, String ifA, String cidrA, String nsB, String ifB, String cidrB) {
        check(run(Duration.ofSeconds(10), "ip", "-n", nsA, "link", "add", ifA, "type", "veth", "peer", "name", ifB,
                "netns", nsB));
        check(run(Duration.ofSeconds(10), "ip", "-n", nsA, "addr", "add", cidrA, "dev", ifA));
        check(run(Duration.ofSeconds(10), "ip", "-n", nsB, "addr", "add", cidrB, "dev", ifB));
        check(run(Duration.ofSeconds(10), "ip", "-n", nsA, "link", "set", ifA, "up"));
        check(run(Duration.ofSeconds(10), "ip", "-n", nsB, "link", "set", ifB, "up"));
    }

    /** The /etc/resolv.conf that {@code ip netns exec} bind-mounts for processes in {@code ns}. */
    void resolvConf(String ns, String nameserver) throws IOException {
        Path dir = Files.createDirectories(ETC_NETNS.resolve(ns));
        Files.writeString(dir.resolve("resolv.conf"), "nameserver " + nameserver + "\noptions timeout:2 attempts:1\n");
    }

    /** Starts a long-running process inside {@code ns}; stopped by {@link #close()}. */
    Process start(String ns, List<String> command, Lines stdout, Lines stderr) throws IOException {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        full.addAll(command);
        Process p = new ProcessBuilder(full).start();
        processes.add(p);
        p.getOutputStream().close();
        stdout.follow(p.getInputStream(), ns + "-out");
        stderr.follow(p.getErrorStream(), ns + "-err");
        return p;
    }

    /** Runs a command inside {@code ns} with exactly the environment {@code env} (env -i). */
    Result exec(String ns, Map<String, String> env, Duration timeout, String... command) {
        List<String> full = new ArrayList<>(List.of("ip", "netns", "exec", ns, "env", "-i"));
        env.forEach((k, v) -> full.add(k + "=" + v));
        full.addAll(List.of(command));
        return run(timeout, full.toArray(String[]::new));
    }

    static Result run(Duration timeout, String... command) {
        try {
            Process p = new ProcessBuilder(command).start();
            p.getOutputStream().close();
            CompletableFuture<String> out = readAsync(p.getInputStream());
            CompletableFuture<String> err = readAsync(p.getErrorStream());
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new AssertionError("timed out after " + timeout + ": " + String.join(" ", command));
            }
            return new Result(p.exitValue(), out.join(), err.join());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run " + String.join(" ", command), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted: " + String.join(" ", command), e);
        }
    }

    private static CompletableFuture<String> readAsync(InputStream in) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "";
            }
        });
    }

    static Result check(Result r) {
        if (r.exit() != 0) {
            throw new AssertionError("command failed: " + r);
        }
        return r;
    }

    /** Stops our processes, then deletes our namespaces (and with them their links). Idempotent. */
    @Override
    public synchronized void close() {
        for (Process p : processes) {
            p.destroy();
        }
        for (Process p : processes) {
            try {
                if (!p.waitFor(5, TimeUnit.SECONDS)) {
                    p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        processes.clear();
        for (String ns : namespaces) {
            remove(ns);
        }
        namespaces.clear();
        if (!etcNetnsExisted) {
            try {
                Files.deleteIfExists(ETC_NETNS);
            } catch (IOException ignored) {
                // Not empty: someone else uses it.
            }
        }
    }

    /** The names of namespaces that {@link #close()} has not removed yet (for the test's own check). */
    List<String> namespaces() {
        return List.copyOf(namespaces);
    }

    /**
     * Removes namespaces (and their /etc/netns directories) named like ours whose JVM no longer
     * runs. Returns their names.
     */
    static List<String> removeLeftovers() {
        List<String> removed = new ArrayList<>();
        Result list = run(Duration.ofSeconds(10), "ip", "netns", "list");
        for (String line : list.out().split("\n")) {
            Matcher m = OURS.matcher(line.trim());
            if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(2))).map(h -> !h.isAlive()).orElse(true)) {
                remove(m.group(1));
                removed.add(m.group(1));
            }
        }
        if (Files.isDirectory(ETC_NETNS)) {
            try (Stream<Path> dirs = Files.list(ETC_NETNS)) {
                for (Path dir : dirs.toList()) {
                    Matcher m = OURS.matcher(dir.getFileName().toString());
                    if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(2))).map(h -> !h.isAlive()).orElse(true)) {
                        deleteTree(dir);
                    }
                }
            } catch (IOException ignored) {
                // Best effort.
            }
        }
        return removed;
    }

    private static void remove(String ns) {
        // Only processes this run (or the dead run that named the namespace) started are inside.
        Result pids = run(Duration.ofSeconds(10), "ip", "netns", "pids", ns);
        for (String pid : pids.out().split("\\s+")) {
            if (!pid.isBlank()) {
                ProcessHandle.of(Long.parseLong(pid)).ifPresent(ProcessHandle::destroyForcibly);
            }
        }
        run(Duration.ofSeconds(10), "ip", "netns", "del", ns);
        deleteTree(ETC_NETNS.resolve(ns));
    }

    private static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // Best effort: a leftover directory holds no network state.
        }
    }
}
