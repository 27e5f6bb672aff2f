package io.egressd.audit;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.rolling.SizeAndTimeBasedRollingPolicy;
import ch.qos.logback.core.spi.LifeCycle;
import ch.qos.logback.core.status.Status;
import ch.qos.logback.core.util.FileSize;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Collectors;

/**
 * Audit lines to a logback appender (a rolling file, stdout, or a stream), in a logger context
 * of its own so that no logback.xml (and no reset of the application's logging) can detach,
 * filter or redirect the audit trail.
 *
 * <p>Callers hand lines to a bounded queue and one writer thread writes them, so that I/O
 * threads do not wait on the disk or the stdout pipe. Nothing is ever dropped: a full queue
 * blocks the caller (back-pressure on the client that causes the events), and close writes
 * every queued line before it returns. The writer takes every line queued at once, writes them
 * through a buffer and flushes when the queue is empty: one write system call per batch, not
 * per line; under load a line reaches the output within about a millisecond.
 */
public final class LogbackAuditSink implements AuditSink {

    /** Lines held in memory before callers block. */
    public static final int DEFAULT_QUEUE_SIZE = 8192;

    /** How often a busy writer looks for lines, and how many empty looks make it wait instead. */
    private static final long POLL_NANOS = 1_000_000;
    private static final int IDLE_POLLS = 20;

    /** Tells the writer that close has queued its last line. */
    private static final ILoggingEvent END = new LoggingEvent();

    private final LoggerContext context;
    private final BlockingQueue<ILoggingEvent> queue;
    private final OutputStreamAppender<ILoggingEvent> output;
    private final Thread writer;
    // Volatile so a write racing close sees it and fails loudly instead of vanishing into a stopped writer.
    private volatile boolean closed;

    private LogbackAuditSink(LoggerContext context, int queueSize, OutputStreamAppender<ILoggingEvent> output) {
        this.context = context;
        this.queue = new ArrayBlockingQueue<>(queueSize);
        this.output = output;
        this.writer = new Thread(this::writeQueued, "egressd-audit-writer");
        writer.setDaemon(true);
        writer.start();
    }

    /**
     * Opens the output and starts the writer.
     *
     * @throws IllegalStateException when the output cannot be opened (e.g. the file's directory is not writable)
     */
    public static LogbackAuditSink open(AuditOutput output, int queueSize) {
        if (queueSize < 1) {
            throw new IllegalArgumentException("audit queue size must be at least 1: " + queueSize);
        }
        LoggerContext context = new LoggerContext();
        context.setName("egressd-audit");
        // The appender asks every event for its MDC, which a context built by hand has no adapter for.
        context.setMDCAdapter(new LogbackMDCAdapter());
        context.getStatusManager().add(new WarningsToStderr());
        context.start();

        OutputStreamAppender<ILoggingEvent> target = target(context, output);
        LineEncoder encoder = new LineEncoder();
        encoder.setContext(context);
        encoder.start();
        target.setEncoder(encoder);
        target.start();
        requireStarted(context, target, "audit output " + describe(output));
        return new LogbackAuditSink(context, queueSize, target);
    }

    @Override
    public void write(AuditEvent event, String line) {
        if (closed) {
            throw new IllegalStateException("audit sink is closed; lost " + line);
        }
        LoggingEvent e = new LoggingEvent();
        e.setLoggerContext(context);
        e.setThreadName(""); // not written; saves the appender asking the writer thread for its name
        e.setMessage(line);
        e.setLevel(Level.INFO);
        e.setTimeStamp(System.currentTimeMillis());
        boolean interrupted = false;
        while (true) {
            try {
                queue.put(e);
                break;
            } catch (InterruptedException ie) {
                // The line is not dropped: keep waiting, and leave the interrupt for the caller.
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Blocks until every accepted line is written; the fronts must be stopped first. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        boolean interrupted = false;
        while (true) {
            try {
                queue.put(END);
                writer.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        // Stopped here, after the writer has ended, so a rotation's last gzip is waited for.
        output.stop();
        context.stop();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The writer thread: batches of queued lines, one flush when the queue is empty, until END.
     * While lines keep coming it looks for more every {@link #POLL_NANOS} instead of waiting in
     * the queue: a waiting writer costs every caller a thread wake-up (a futex call, several
     * microseconds) per line; a polling one costs nobody anything, and a line waits at most that
     * long. After {@link #IDLE_POLLS} empty looks it waits in the queue again (no polling when idle).
     */
    private void writeQueued() {
        List<ILoggingEvent> batch = new ArrayList<>();
        int idle = 0;
        while (true) {
            queue.drainTo(batch);
            if (batch.isEmpty()) {
                if (idle++ < IDLE_POLLS) {
                    LockSupport.parkNanos(POLL_NANOS);
                    continue;
                }
                try {
                    batch.add(queue.take());
                } catch (InterruptedException e) {
                    continue; // nobody interrupts this thread on purpose; never stop with lines queued
                }
                queue.drainTo(batch);
            }
            idle = 0;
            for (ILoggingEvent e : batch) {
                if (e == END) {
                    flush();
                    return;
                }
                output.doAppend(e);
            }
            batch.clear();
            if (queue.isEmpty()) {
                flush();
            }
        }
    }

    private void flush() {
        OutputStream stream = output.getOutputStream();
        if (stream == null) {
            return;
        }
        try {
            stream.flush();
        } catch (IOException e) {
            output.addError("cannot flush the audit output", e);
        }
    }

    private static OutputStreamAppender<ILoggingEvent> target(LoggerContext context, AuditOutput output) {
        OutputStreamAppender<ILoggingEvent> appender;
        if (output instanceof AuditOutput.Stdout) {
            appender = new ConsoleAppender<>();
        } else if (output instanceof AuditOutput.Stream s) {
            appender = new OutputStreamAppender<>();
            appender.setOutputStream(new NonClosingStream(new java.io.BufferedOutputStream(s.stream())));
        } else {
            AuditOutput.RollingFile f = (AuditOutput.RollingFile) output;
            RollingFileAppender<ILoggingEvent> file = new RollingFileAppender<>();
            file.setContext(context);
            file.setFile(f.file().toString());
            file.setAppend(true);
            SizeAndTimeBasedRollingPolicy<ILoggingEvent> policy = new SizeAndTimeBasedRollingPolicy<>();
            policy.setContext(context);
            policy.setParent(file);
            // UTC dates, like the time field; %i numbers the files of one day, .gz compresses rotated ones.
            policy.setFileNamePattern(f.file() + ".%d{yyyy-MM-dd,UTC}.%i.gz");
            policy.setMaxFileSize(new FileSize(f.rotation().maxFileSizeBytes()));
            policy.setMaxHistory(f.rotation().maxHistoryDays());
            policy.setTotalSizeCap(new FileSize(f.rotation().totalSizeCapBytes()));
            policy.start();
            requireStarted(context, policy, "audit rotation for " + f.file());
            file.setRollingPolicy(policy);
            appender = file;
        }
        appender.setContext(context);
        appender.setName("audit-output");
        // Flushed by the writer once per batch, when no more lines are queued (writeQueued).
        appender.setImmediateFlush(false);
        return appender;
    }

    private static void requireStarted(LoggerContext context, LifeCycle part, String what) {
        if (!part.isStarted()) {
            String errors = context.getStatusManager().getCopyOfStatusList().stream()
                    .filter(s -> s.getEffectiveLevel() >= Status.WARN)
                    .map(Status::getMessage)
                    .collect(Collectors.joining("; "));
            context.stop();
            throw new IllegalStateException("cannot open " + what + (errors.isEmpty() ? "" : ": " + errors));
        }
    }

    private static String describe(AuditOutput output) {
        if (output instanceof AuditOutput.RollingFile f) {
            return f.file().toString();
        }
        return output instanceof AuditOutput.Stdout ? "stdout" : "stream";
    }
}
