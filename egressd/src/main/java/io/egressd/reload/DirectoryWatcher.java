package io.egressd.reload;

import java.io.IOException;
import java.nio.file.ClosedWatchServiceException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls {@code onChange} when the allowlists directory may have changed. A WatchService gives
 * prompt events; a poll of the directory's {@link DirectoryFingerprint} runs beside it, because
 * some mounts never deliver events (Docker Desktop bind mounts, NFS, a file symlinked from
 * elsewhere) and because a WatchService may be unavailable (inotify limits). Either may fire for
 * the same change: the caller coalesces. When the directory is deleted its watch ends; the poll
 * registers it again once a directory is back at that path, so events resume after it is re-created.
 */
final class DirectoryWatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DirectoryWatcher.class);

    private final Path directory;
    private final Runnable onChange;
    private final ScheduledExecutorService poller;
    private final Duration pollInterval;
    private final boolean useWatchService;
    private final WatchServices watchServices;
    // Only the poller's one thread touches it: the poll task, and reloads through seen().
    private List<String> lastSeen;
    private WatchService watchService;
    /** The directory's registration; invalid once the directory is deleted, until the poll registers it again. */
    private volatile WatchKey watchKey;
    private Thread watchThread;
    private ScheduledFuture<?> poll;

    /**
     * @param baseline the fingerprint taken before the policy in force was read, so a change made
     *                 between that read and {@link #start()} is not missed
     */
    DirectoryWatcher(Path directory, List<String> baseline, Runnable onChange, ScheduledExecutorService poller,
                     Duration pollInterval, boolean useWatchService) {
        this(directory, baseline, onChange, poller, pollInterval, useWatchService, WatchServices.SYSTEM);
    }

    DirectoryWatcher(Path directory, List<String> baseline, Runnable onChange, ScheduledExecutorService poller,
                     Duration pollInterval, boolean useWatchService, WatchServices watchServices) {
        this.directory = directory;
        this.lastSeen = baseline;
        this.onChange = onChange;
        this.poller = poller;
        this.pollInterval = pollInterval;
        this.useWatchService = useWatchService;
        this.watchServices = watchServices;
    }

    /** Where the WatchService comes from; a seam so a test can take it away as inotify limits would. */
    @FunctionalInterface
    interface WatchServices {
        WatchServices SYSTEM = directory -> directory.getFileSystem().newWatchService();

        WatchService open(Path directory) throws IOException;
    }

    void start() {
        if (useWatchService) {
            try {
                watchService = watchServices.open(directory);
                register();
                watchThread = new Thread(this::watch, "egressd-policy-watch");
                watchThread.setDaemon(true);
                watchThread.start();
            } catch (IOException | UnsupportedOperationException e) {
                LOG.warn("cannot watch {} ({}); polling it every {} ms", directory, e, pollInterval.toMillis());
                closeWatchService();
            }
        }
        long every = pollInterval.toNanos();
        poll = poller.scheduleWithFixedDelay(this::poll, every, every, TimeUnit.NANOSECONDS);
    }

    private void register() throws IOException {
        watchKey = directory.register(watchService, StandardWatchEventKinds.ENTRY_CREATE,
                StandardWatchEventKinds.ENTRY_DELETE, StandardWatchEventKinds.ENTRY_MODIFY);
    }

    /** Whether the WatchService is watching the directory now (not while it is gone). */
    boolean watching() {
        WatchKey key = watchKey;
        return key != null && key.isValid();
    }

    private void watch() {
        try {
            while (true) {
                WatchKey key = watchService.take();
                // Any event, including OVERFLOW, means "look again": the reload reads the whole directory.
                key.pollEvents();
                onChange.run();
                if (!key.reset()) {
                    // The poll registers the directory again when it is back; keep taking its events.
                    LOG.warn("{} is no longer watchable (removed or replaced); polling it every {} ms until it is back",
                            directory, pollInterval.toMillis());
                }
            }
        } catch (InterruptedException | ClosedWatchServiceException e) {
            // Closing.
        }
    }

    /**
     * A reload is about to read the directory as it looks now: the poll need not report it again.
     * Without this, a change the WatchService reported and a reload already read looked new to
     * the next poll, and a broken edit was rejected (audited, counted, logged) twice. Call on the
     * poller's thread only.
     */
    void seen(List<String> fingerprint) {
        lastSeen = fingerprint;
    }

    private void poll() {
        // Register again before fingerprinting: a change between the two is then seen by one or the other.
        rewatchIfBack();
        List<String> now = DirectoryFingerprint.of(directory);
        if (!now.equals(lastSeen)) {
            lastSeen = now;
            onChange.run();
        }
    }

    private void rewatchIfBack() {
        if (watchThread == null || watching() || !Files.isDirectory(directory)) {
            return;
        }
        try {
            register();
            LOG.info("{} is back; watching it again", directory);
        } catch (IOException | ClosedWatchServiceException e) {
            LOG.debug("cannot watch {} again yet", directory, e);
        }
    }

    @Override
    public void close() {
        if (poll != null) {
            poll.cancel(false);
        }
        closeWatchService();
        if (watchThread != null) {
            watchThread.interrupt();
        }
    }

    private void closeWatchService() {
        if (watchService != null) {
            try {
                watchService.close();
            } catch (IOException e) {
                LOG.debug("closing the watch service of {}", directory, e);
            }
        }
    }
}
