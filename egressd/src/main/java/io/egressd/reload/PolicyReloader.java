package io.egressd.reload;

import io.egressd.policy.AllowlistLoader;
import io.egressd.policy.GlobalDeny;
import io.egressd.policy.Policy;
import io.egressd.policy.PolicyException;
import io.egressd.policy.ValidationError;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Owns the live {@link Policy}: the fronts read {@link #get()} for each new connection or query,
 * so a connection keeps the policy that decided it and the next one sees the new policy. Reloads
 * come from the allowlists directory changing ({@link #start()}) and from {@link #reload(Trigger)}
 * (SIGHUP). A reload that fails validation keeps the last good policy, logs every error as
 * {@code file:line:column: message}, and tells the listener (policy.rejected, a failure count).
 */
public final class PolicyReloader implements Supplier<Policy>, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(PolicyReloader.class);

    private final Path directory;
    private final GlobalDeny deny;
    private final ReloadListener listener;
    private final ReloadSettings settings;
    private final DirectoryWatcher.WatchServices watchServices;
    private final List<String> baseline;
    // An AtomicReference is all the fronts need: a Policy is immutable, so one volatile read gives a whole, consistent policy.
    private final AtomicReference<Policy> current;
    // One thread runs every reload and every poll, so reloads never interleave and the last to finish read the files last.
    private final ScheduledExecutorService worker;
    private final Coalescer coalescer;
    // Read and written only on the worker thread.
    private boolean lastFailed;
    // Volatile: set by start(), read on the worker thread by reloads a signal handler may have queued.
    private volatile DirectoryWatcher watcher;

    private PolicyReloader(Path directory, GlobalDeny deny, ReloadListener listener, ReloadSettings settings,
                           DirectoryWatcher.WatchServices watchServices, List<String> baseline, Policy initial) {
        this.directory = directory;
        this.deny = deny;
        this.listener = listener;
        this.settings = settings;
        this.watchServices = watchServices;
        this.baseline = baseline;
        this.current = new AtomicReference<>(initial);
        this.worker = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "egressd-policy-reload");
            t.setDaemon(true);
            return t;
        });
        this.coalescer = new Coalescer(worker, settings.quiet(), settings.maxDelay(), () -> reloadNow(Trigger.FILE));
    }

    /**
     * Loads the policy to start with and tells the listener (policy.loaded). Nothing is watched
     * until {@link #start()}.
     *
     * @throws PolicyException when the files do not validate; nothing is logged or audited, the
     *         caller prints the errors and does not serve
     */
    public static PolicyReloader load(Path directory, GlobalDeny deny, ReloadListener listener,
                                      ReloadSettings settings) throws PolicyException {
        return load(directory, deny, listener, settings, DirectoryWatcher.WatchServices.SYSTEM);
    }

    /** As above, the directory's WatchService opened by {@code watchServices}. */
    static PolicyReloader load(Path directory, GlobalDeny deny, ReloadListener listener, ReloadSettings settings,
                               DirectoryWatcher.WatchServices watchServices) throws PolicyException {
        List<String> baseline = DirectoryFingerprint.of(directory);
        Policy initial = AllowlistLoader.load(directory, deny);
        PolicyReloader reloader = new PolicyReloader(directory, deny, listener, settings, watchServices, baseline,
                initial);
        listener.loaded(initial, Trigger.STARTUP);
        return reloader;
    }

    /** The policy in force. */
    @Override
    public Policy get() {
        return current.get();
    }

    /** Starts watching the allowlists directory. */
    public synchronized void start() {
        if (watcher == null) {
            watcher = new DirectoryWatcher(directory, baseline, coalescer::signal, worker,
                    settings.pollInterval(), settings.useWatchService(), watchServices);
            watcher.start();
        }
    }

    /**
     * Reloads soon, on the reload thread; safe from a signal handler. The future completes with
     * what the reload did (exceptionally when the reloader is closed).
     */
    public CompletableFuture<ReloadOutcome> reload(Trigger trigger) {
        try {
            return CompletableFuture.supplyAsync(() -> reloadNow(trigger), worker);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** Runs on the worker thread only. */
    private ReloadOutcome reloadNow(Trigger trigger) {
        Policy kept = current.get();
        DirectoryWatcher watching = watcher;
        if (watching != null) {
            // Taken before reading, so a change made during the read still looks new to the next poll.
            watching.seen(DirectoryFingerprint.of(directory));
        }
        Policy loaded;
        try {
            loaded = AllowlistLoader.load(directory, deny);
        } catch (PolicyException e) {
            return reject(kept, e.errors(), trigger);
        } catch (RuntimeException e) {
            return reject(kept, List.of(new ValidationError(directory.toString(), 1, 1, "cannot load: " + e)), trigger);
        }
        // A watch event that changed nothing a reload reads (an editor's swap file, a touch) is not news;
        // a SIGHUP always is, and so is the first good load after a rejection.
        if (trigger == Trigger.FILE && !lastFailed && loaded.version().equals(kept.version())) {
            return new ReloadOutcome(kept, List.of(), false);
        }
        current.set(loaded);
        lastFailed = false;
        LOG.info("policy {} loaded ({}): {} servers", loaded.version(), trigger.code(), loaded.servers().size());
        listener.loaded(loaded, trigger);
        return new ReloadOutcome(loaded, List.of(), true);
    }

    private ReloadOutcome reject(Policy kept, List<ValidationError> errors, Trigger trigger) {
        lastFailed = true;
        LOG.warn("policy reload ({}) rejected, keeping policy {}: {} errors", trigger.code(), kept.version(),
                errors.size());
        for (ValidationError error : errors) {
            LOG.warn("{}", error);
        }
        listener.rejected(kept, errors, trigger);
        return new ReloadOutcome(kept, errors, true);
    }

    /** Stops watching; a reload already running finishes first. */
    @Override
    public synchronized void close() {
        if (watcher != null) {
            watcher.close();
        }
        worker.shutdown();
        try {
            if (!worker.awaitTermination(10, TimeUnit.SECONDS)) {
                worker.shutdownNow();
            }
        } catch (InterruptedException e) {
            worker.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
