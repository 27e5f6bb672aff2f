package io.egressd.reload;

import java.time.Duration;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Turns a burst of signals into one run of an action, once the burst has been quiet for
 * {@code quiet}, and never later than {@code maxDelay} after its first signal (so a directory
 * that never stops changing still gets reloaded). An editor's save or a ConfigMap swap is a
 * handful of events within milliseconds; they become one reload.
 */
final class Coalescer {

    private final ScheduledExecutorService executor;
    private final long quietNanos;
    private final long maxDelayNanos;
    private final Runnable action;
    // A CAS on this flag lets exactly one signal of a burst schedule the run; the rest only move lastSignal.
    private final AtomicBoolean scheduled = new AtomicBoolean();
    // Volatile: written by signalling threads, read by the executor thread when the run comes due.
    private volatile long lastSignal;
    private volatile long firstSignal;

    Coalescer(ScheduledExecutorService executor, Duration quiet, Duration maxDelay, Runnable action) {
        this.executor = executor;
        this.quietNanos = quiet.toNanos();
        this.maxDelayNanos = maxDelay.toNanos();
        this.action = action;
    }

    void signal() {
        long now = System.nanoTime();
        lastSignal = now;
        if (scheduled.compareAndSet(false, true)) {
            firstSignal = now;
            schedule(quietNanos);
        }
    }

    private void due() {
        long now = System.nanoTime();
        long quietFor = now - lastSignal;
        if (quietFor < quietNanos && now - firstSignal < maxDelayNanos) {
            schedule(quietNanos - quietFor);
            return;
        }
        // Cleared before the action runs: a signal during the action schedules another run, never none.
        scheduled.set(false);
        action.run();
    }

    private void schedule(long delayNanos) {
        try {
            executor.schedule(this::due, delayNanos, TimeUnit.NANOSECONDS);
        } catch (RejectedExecutionException e) {
            // Shutting down: nothing is reloaded any more.
            scheduled.set(false);
        }
    }
}
