package io.egressd.reload;

import java.time.Duration;

/**
 * How the allowlists directory is watched.
 *
 * @param quiet           a burst of changes is reloaded once it has been quiet this long
 * @param maxDelay        ... but no later than this after its first change
 * @param pollInterval    how often the directory is polled, beside (or instead of) the WatchService
 * @param useWatchService false: poll only (for file systems that deliver no events)
 */
public record ReloadSettings(Duration quiet, Duration maxDelay, Duration pollInterval, boolean useWatchService) {

    /** 250 ms quiet, 2 s at most, a poll every second, WatchService on. */
    public static final ReloadSettings DEFAULT =
            new ReloadSettings(Duration.ofMillis(250), Duration.ofSeconds(2), Duration.ofSeconds(1), true);
}
