package io.egressd.proxy;

import io.netty.resolver.HostsFileEntriesProvider;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@link InetAddress#getAllByName} made asynchronous, for the absolute name only.
 *
 * <p>A name without a trailing dot is relative to glibc: with resolv.conf's {@code search} and
 * {@code ndots} (Kubernetes: {@code ndots:5}), {@code api.github.com} is first tried as
 * {@code api.github.com.<ns>.svc.cluster.local}, which anyone who can create a record or
 * Service there answers. So DNS is asked for {@code name + "."}, which glibc's resolver never
 * extends. glibc's files backend, though, compares the name exactly and does not find
 * {@code localhost.} in /etc/hosts ({@code getent ahosts localhost.} fails, glibc 2.36), so
 * /etc/hosts is read here first, as glibc's {@code hosts: files dns} order would: a name listed
 * there answers from it, every other name goes to getaddrinfo in its absolute form.
 */
final class SystemNameResolver implements AsyncNameResolver {

    /** The blocking lookup; {@link InetAddress#getAllByName} outside tests. */
    @FunctionalInterface
    interface Lookup {
        InetAddress[] all(String name) throws UnknownHostException;
    }

    private static final Path HOSTS = Path.of("/etc/hosts");
    /**
     * How long an answer is reused without a lookup: well inside the JVM's own positive cache
     * (networkaddress.cache.ttl, 30 s), so no staler than getaddrinfo through the JVM would be.
     * A reused answer completes at once on the caller's thread: no hand-off to a lookup thread
     * and back for every connection to a busy name (docs/benchmarks.md, new tunnels/s).
     */
    static final Duration REUSE = Duration.ofSeconds(5);
    /** Bounds the reuse table; wildcard rules allow any number of names. */
    private static final int REUSE_MAX_NAMES = 4096;

    private final Duration timeout;
    private final Path hostsFile;
    private final Lookup lookup;
    // getAllByName blocks and cannot be interrupted, so it gets threads of its own, never an I/O thread.
    private final ExecutorService lookups;
    private volatile HostsSnapshot hosts;
    private final long reuseNanos;
    private final ConcurrentMap<String, Recent> recent = new ConcurrentHashMap<>();

    SystemNameResolver(Duration timeout, int threads) {
        this(timeout, threads, HOSTS, InetAddress::getAllByName, REUSE);
    }

    /** Tests: every resolve looks up again. */
    SystemNameResolver(Duration timeout, int threads, Path hostsFile, Lookup lookup) {
        this(timeout, threads, hostsFile, lookup, Duration.ZERO);
    }

    SystemNameResolver(Duration timeout, int threads, Path hostsFile, Lookup lookup, Duration reuse) {
        this.reuseNanos = reuse.toNanos();
        this.timeout = timeout;
        this.hostsFile = hostsFile;
        this.lookup = lookup;
        AtomicInteger n = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, "egressd-dns-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        this.lookups = Executors.newFixedThreadPool(threads, factory);
    }

    @Override
    public CompletableFuture<List<InetAddress>> resolve(String name) {
        // /etc/hosts here, on the caller's thread (a small local file): a name listed there never
        // waits behind DNS lookups that hang while every lookup thread is taken by them.
        List<InetAddress> listed;
        try {
            listed = fromHostsFile(name);
        } catch (IOException | RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
        if (!listed.isEmpty()) {
            return CompletableFuture.completedFuture(listed);
        }
        Recent seen = recent.get(name);
        if (seen != null && System.nanoTime() - seen.until() < 0) {
            return CompletableFuture.completedFuture(seen.addresses());
        }
        CompletableFuture<List<InetAddress>> result = new CompletableFuture<>();
        lookups.execute(() -> {
            if (result.isDone()) {
                return; // timed out while queued behind slow lookups
            }
            try {
                List<InetAddress> found = fromDns(name);
                remember(name, found);
                result.complete(found);
            } catch (IOException | RuntimeException e) {
                result.completeExceptionally(e);
            }
        });
        return result.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Answers only, never failures: a name that did not resolve is asked again next time. */
    private void remember(String name, List<InetAddress> found) {
        if (reuseNanos <= 0) {
            return;
        }
        if (recent.size() >= REUSE_MAX_NAMES) {
            recent.clear();
        }
        recent.put(name, new Recent(found, System.nanoTime() + reuseNanos));
    }

    private List<InetAddress> fromDns(String name) throws IOException {
        InetAddress[] found = lookup.all(name.endsWith(".") ? name : name + ".");
        if (found.length == 0) {
            throw new UnknownHostException(name);
        }
        return List.of(found);
    }

    /**
     * Checked on every lookup, as glibc does, since the file may change (Kubernetes writes it);
     * parsed again only when its modification time or size changed.
     */
    private List<InetAddress> fromHostsFile(String name) throws IOException {
        HostsFileEntriesProvider entries = hostsEntries();
        // The parser lower-cases names; canonical names are lower-case already.
        List<InetAddress> found = new ArrayList<>(entries.ipv4Entries().getOrDefault(name, List.of()));
        found.addAll(entries.ipv6Entries().getOrDefault(name, List.of()));
        return List.copyOf(found);
    }

    private HostsFileEntriesProvider hostsEntries() throws IOException {
        HostsSnapshot seen = hosts;
        BasicFileAttributes now;
        try {
            now = Files.readAttributes(hostsFile, BasicFileAttributes.class);
        } catch (NoSuchFileException e) {
            return HostsFileEntriesProvider.parser().parse(hostsFile.toFile()); // no file: no entries
        }
        if (seen != null && seen.modified().equals(now.lastModifiedTime()) && seen.size() == now.size()) {
            return seen.entries();
        }
        HostsFileEntriesProvider parsed = HostsFileEntriesProvider.parser().parse(hostsFile.toFile());
        hosts = new HostsSnapshot(now.lastModifiedTime(), now.size(), parsed);
        return parsed;
    }

    private record Recent(List<InetAddress> addresses, long until) { }

    private record HostsSnapshot(FileTime modified, long size, HostsFileEntriesProvider entries) { }
}
