package io.egressd.proxy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real PostgreSQL server (Debian's {@code postgresql} package) for one test: {@code initdb}
 * into a fresh directory, {@code postgres} on a free 127.0.0.1 port with trust authentication,
 * stopped and deleted by {@link #close()}. PostgreSQL refuses to run as root, so as root the
 * binaries run as the {@code postgres} user (setpriv), which owns the directory.
 */
final class Postgres implements AutoCloseable {

    private static final Path VERSIONS = Path.of("/usr/lib/postgresql");

    final Path bin;
    final int port;
    private final Path base;
    private final Process server;

    private Postgres(Path bin, int port, Path base, Process server) {
        this.bin = bin;
        this.port = port;
        this.base = base;
        this.server = server;
    }

    /** The newest installed version's bin directory; fails (never skips) when PostgreSQL is missing. */
    static Path binaries() throws IOException {
        if (!Files.isDirectory(VERSIONS)) {
            throw new AssertionError("PostgreSQL is not installed (/usr/lib/postgresql missing):"
                    + " apt-get install -y postgresql");
        }
        try (Stream<Path> versions = Files.list(VERSIONS)) {
            return versions.filter(v -> Files.isExecutable(v.resolve("bin/postgres")))
                    .max(Comparator.comparingInt(v -> Integer.parseInt(v.getFileName().toString().replaceAll("\\D", "0"))))
                    .map(v -> v.resolve("bin"))
                    .orElseThrow(() -> new AssertionError("no PostgreSQL server under " + VERSIONS));
        }
    }

    static Postgres start() throws IOException, InterruptedException {
        Path bin = binaries();
        Path base = Files.createTempDirectory("egressd-pg");
        try {
            boolean root = "root".equals(System.getProperty("user.name"));
            if (root) {
                UserPrincipalLookupService users = base.getFileSystem().getUserPrincipalLookupService();
                PosixFileAttributeView view = Files.getFileAttributeView(base, PosixFileAttributeView.class);
                view.setOwner(users.lookupPrincipalByName("postgres"));
                GroupPrincipal group = users.lookupPrincipalByGroupName("postgres");
                view.setGroup(group);
            }
            Path data = base.resolve("data");
            run(bin, base, "initdb", "-D", data.toString(), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                    "--no-sync", "--no-instructions");
            int port = freePort();
            ProcessBuilder pb = new ProcessBuilder(command(bin, "postgres", "-D", data.toString(), "-p",
                    Integer.toString(port), "-c", "listen_addresses=127.0.0.1", "-c",
                    "unix_socket_directories=" + base, "-c", "fsync=off", "-c", "max_connections=20"));
            pb.redirectErrorStream(true).redirectOutput(base.resolve("postgres.log").toFile());
            Process server = pb.start();
            Postgres pg = new Postgres(bin, port, base, server);
            try {
                pg.awaitReady();
            } catch (IOException | InterruptedException | RuntimeException | Error e) {
                pg.close();
                throw e;
            }
            return pg;
        } catch (IOException | InterruptedException | RuntimeException | Error e) {
            delete(base);
            throw e;
        }
    }

    private void awaitReady() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            if (!server.isAlive()) {
                throw new IOException("postgres exited " + server.exitValue() + ":\n" + log());
            }
            Process ready = new ProcessBuilder(bin.resolve("pg_isready").toString(), "-h", "127.0.0.1", "-p",
                    Integer.toString(port), "-U", "postgres", "-t", "2").redirectErrorStream(true).start();
            ready.getInputStream().readAllBytes();
            if (ready.waitFor(10, TimeUnit.SECONDS) && ready.exitValue() == 0) {
                return;
            }
            Thread.sleep(200);
        }
        throw new IOException("postgres did not become ready within 60s:\n" + log());
    }

    String log() {
        try {
            return Files.readString(base.resolve("postgres.log"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }

    /** Runs psql from this installation against {@code host:port}; its output, trimmed. */
    String psql(String host, int psqlPort, String sql) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(bin.resolve("psql").toString(), "-X", "-At", "-h", host, "-p",
                Integer.toString(psqlPort), "-U", "postgres", "-d", "postgres", "-c", sql);
        pb.environment().put("PGCONNECT_TIMEOUT", "10");
        pb.environment().put("PGSSLMODE", "disable");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("psql did not finish");
        }
        return p.exitValue() == 0 ? out : "psql exit " + p.exitValue() + ": " + out;
    }

    /** Fast shutdown (SIGINT), then forcibly if it lingers; the directory goes in any case. */
    @Override
    public void close() {
        try {
            if (server.isAlive()) {
                new ProcessBuilder("kill", "-INT", Long.toString(server.pid())).start().waitFor(5, TimeUnit.SECONDS);
                if (!server.waitFor(15, TimeUnit.SECONDS)) {
                    server.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
                }
            }
        } catch (IOException | InterruptedException e) {
            server.destroyForcibly();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
        } finally {
            delete(base);
        }
    }

    private static void run(Path bin, Path base, String program, String... args)
            throws IOException, InterruptedException {
        List<String> command = command(bin, program, args);
        Process p = new ProcessBuilder(command).directory(base.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException(String.join(" ", command) + " failed:\n" + out);
        }
    }

    /** The command, as the postgres user when we are root (PostgreSQL refuses root). */
    private static List<String> command(Path bin, String program, String... args) {
        List<String> command = new ArrayList<>();
        if ("root".equals(System.getProperty("user.name"))) {
            command.addAll(List.of("setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--"));
        }
        command.add(bin.resolve(program).toString());
        command.addAll(List.of(args));
        return command;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void delete(Path dir) {
        try (Stream<Path> all = Files.walk(dir)) {
            all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // Best effort: a temporary directory.
        }
    }
}
