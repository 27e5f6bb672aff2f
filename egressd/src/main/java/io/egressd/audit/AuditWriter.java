package io.egressd.audit;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The audit writer thread: takes the queued lines in batches, writes each batch into the
 * output and flushes it once, and tells {@link AuditHealth} how that went. A line counts as
 * written only once a flush that carried it succeeded.
 *
 * <p>When a batch fails (a write or its flush), its lines not yet flushed are failed. With
 * {@code audit.on_failure: refuse} they are written again, in order, the first one alone
 * (after 0.1 s, doubling to 1 s between tries) until it goes through, while the daemon refuses
 * egress; then batching resumes. Lines whose bytes partly reached the output before the fault
 * (a disk that filled up in the middle of a batch) can thus appear twice, the first time
 * possibly cut short; no line that was flushed is written again. With {@code continue}, or once
 * the sink is closing, failed lines are given up and counted (at shutdown, printed on stderr).
 *
 * <p>While lines keep coming, the writer looks for more every {@link #POLL_NANOS} instead of
 * waiting in the queue: a waiting writer costs every caller a thread wake-up (a futex call)
 * per line; a polling one costs callers nothing, and a line waits at most that long. It polls
 * only when lines came close together (its last wait in the queue was shorter than
 * {@link #BUSY_NANOS}): for sparse lines a wake-up each is cheaper than polls between them. After
 * {@link #IDLE_POLLS} empty looks it waits in the queue again, so an idle writer uses no CPU.
 */
final class AuditWriter implements Runnable {

    /** Queued by close after the last line: the writer ends once the queue is empty behind it. */
    static final String END = new String("end of audit"); // compared by identity, never equal to a queued line

    /** Lines flushed together at most: bounds the batch buffer (a few hundred KiB). */
    static final int MAX_BATCH = 512;

    /** Retry pauses for a failing output: short first, so that a brief fault costs little. */
    private static final long FIRST_RETRY_MILLIS = 100;
    private static final long MAX_RETRY_MILLIS = 1000;

    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long BUSY_NANOS = TimeUnit.MILLISECONDS.toNanos(2);
    private static final int IDLE_POLLS = 3;

    private final BlockingQueue<String> queue;
    private final LineOutput output;
    private final AuditHealth health;
    /** Set when the sink closes: a batch that still fails then is given up, so that shutdown ends. */
    private volatile boolean closing;
    private volatile Thread thread;

    AuditWriter(BlockingQueue<String> queue, LineOutput output, AuditHealth health) {
        this.queue = queue;
        this.output = output;
        this.health = health;
    }

    @Override
    public void run() {
        try {
            writeUntilEnd();
        } catch (Error e) {
            // The writer is gone (out of memory, say): say the output failed, so that with refuse
            // egress is refused from now on instead of queueing lines nobody will write.
            health.failed(new IOException("audit writer stopped: " + e), 1);
            throw e;
        }
    }

    private void writeUntilEnd() {
        thread = Thread.currentThread();
        List<String> batch = new ArrayList<>(MAX_BATCH);
        boolean ended = false;
        boolean polling = false;
        int idle = 0;
        while (true) {
            queue.drainTo(batch, MAX_BATCH);
            if (batch.isEmpty()) {
                if (ended) {
                    return;
                }
                if (polling && idle++ < IDLE_POLLS) {
                    LockSupport.parkNanos(this, POLL_NANOS);
                    continue;
                }
                long waitStart = System.nanoTime();
                batch.add(take());
                polling = System.nanoTime() - waitStart < BUSY_NANOS;
                queue.drainTo(batch, MAX_BATCH - 1);
            }
            idle = 0;
            // END comes last but for a write that raced close; whatever follows it is still written.
            ended |= batch.removeIf(line -> line == END);
            write(batch);
            batch.clear();
        }
    }

    /** From now on a failing batch is tried once more and then given up; a retry pause ends now. */
    void closing() {
        closing = true;
        Thread writer = thread;
        if (writer != null) {
            LockSupport.unpark(writer);
        }
    }

    /** Writes the lines in order: each is written, or given up as {@code audit.on_failure} says. */
    private void write(List<String> lines) {
        int from = 0;
        int n = lines.size();
        long pause = FIRST_RETRY_MILLIS;
        boolean retrying = false;
        while (from < n) {
            // After a failure, one line at a time until one goes through.
            int to = retrying ? from + 1 : n;
            int next = from;
            try {
                output.beginBatch();
                for (; next < to; next++) {
                    writeLine(lines.get(next));
                    if (output.flushedBeforeLastLine()) {
                        from = written(from, next);
                    }
                }
                output.flush();
                from = written(from, to);
                retrying = false;
                pause = FIRST_RETRY_MILLIS;
            } catch (IOException | RuntimeException e) {
                if (next < to && output.flushedBeforeLastLine()) {
                    from = written(from, next);
                }
                // The lines since the last flush, up to the one that failed, are not written.
                int failedTo = Math.min(next + 1, to);
                health.failed(e instanceof IOException io ? io : new IOException(e.toString(), e), failedTo - from);
                if (!health.refusesOnFailure() || closing) {
                    for (int i = from; i < failedTo; i++) {
                        health.lost(closing ? lines.get(i) : null);
                    }
                    from = failedTo;
                    continue;
                }
                retrying = true;
                pause(pause);
                pause = Math.min(MAX_RETRY_MILLIS, pause * 2);
            }
        }
    }

    private void writeLine(String line) throws IOException {
        output.writeLine(new AuditLine(line));
    }

    /** Lines [from, to) reached the output; returns {@code to}. */
    private int written(int from, int to) {
        if (to > from) {
            health.wrote();
        }
        return to;
    }

    /** Waits for a line; nobody interrupts this thread on purpose, and it never ends with lines queued. */
    private String take() {
        while (true) {
            try {
                return queue.take();
            } catch (InterruptedException e) {
                // keep waiting: close ends the writer with END, not with an interrupt
            }
        }
    }

    /** Sleeps before a retry; cut short when the sink closes. */
    private void pause(long millis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        long left;
        while (!closing && (left = deadline - System.nanoTime()) > 0) {
            Thread.interrupted(); // a stray interrupt must not turn the pause into a spin
            LockSupport.parkNanos(this, left);
        }
    }
}
