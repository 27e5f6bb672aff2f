package io.egressd.audit;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.rolling.SizeAndTimeBasedRollingPolicy;
import ch.qos.logback.core.spi.LifeCycle;
import ch.qos.logback.core.status.Status;
import ch.qos.logback.core.util.FileSize;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Audit lines to a logback appender (a rotated file, standard output, or a stream), in a logger
 * context of its own so that no logback.xml (and no reset of the application's logging) can
 * detach, filter or redirect the audit trail.
 *
 * <p>Callers hand lines to a bounded queue and one writer thread ({@link AuditWriter}) writes
 * them, so that I/O threads do not wait on the disk or the stdout pipe. No line is lost to the
 * queue: a full queue blocks the caller (back-pressure on the client that causes the events),
 * and close writes every queued line before it returns. The writer takes the queued lines in
 * batches and flushes once per batch: one {@code write} system call for many lines, not one
 * and a flush each; under load a line reaches the output within about a millisecond.
 *
 * <p>The writer reports each batch's outcome to {@link AuditHealth} and, while the output
 * fails, retries the lines or gives them up as {@code audit.on_failure} says; {@link FileOutput}
 * and {@link StreamOutput} make sure a failed write is seen at all (logback's own appenders
 * stop, or drop lines while they retry).
 */
public final class LogbackAuditSink implements AuditSink {

    /** Lines held in memory before callers block. */
    public static final int DEFAULT_QUEUE_SIZE = 8192;

    /** How long close waits for the gzips of rotated files. */
    private static final long ROTATION_WAIT_SECONDS = 60;

    private final LoggerContext context;
    private final BlockingQueue<String> queue;
    private final AuditWriter writer;
    private final Thread writerThread;
    private final OutputStreamAppender<ILoggingEvent> output;
    // Volatile so a write racing close sees it and fails loudly instead of vanishing into an ended writer.
    private volatile boolean closed;

    private LogbackAuditSink(LoggerContext context, int queueSize, OutputStreamAppender<ILoggingEvent> output,
                             AuditHealth health) {
        this.context = context;
        this.queue = new ArrayBlockingQueue<>(queueSize);
        this.output = output;
        this.writer = new AuditWriter(queue, (LineOutput) output, health);
        this.writerThread = new Thread(writer, "egressd-audit-writer");
        writerThread.setDaemon(true);
        writerThread.start();
    }

    /**
     * Opens the output and starts the writer.
     *
     * @throws IllegalStateException when the output cannot be opened (e.g. the file's directory is not writable)
     */
    public static LogbackAuditSink open(AuditOutput output, int queueSize) {
        return open(output, queueSize, new AuditHealth(false, System.err));
    }

    /**
     * As above, reporting every write's outcome to {@code health} (which also says whether a
     * failed line is retried or dropped).
     */
    public static LogbackAuditSink open(AuditOutput output, int queueSize, AuditHealth health) {
        if (queueSize < 1) {
            throw new IllegalArgumentException("audit queue size must be at least 1: " + queueSize);
        }
        LoggerContext context = new LoggerContext();
        context.setName("egressd-audit");
        context.getStatusManager().add(new WarningsToStderr());
        context.start();

        OutputStreamAppender<ILoggingEvent> target = target(context, output);
        LineEncoder encoder = new LineEncoder();
        encoder.setContext(context);
        encoder.start();
        target.setEncoder(encoder);
        target.start();
        requireStarted(context, target, "audit output " + describe(output));
        return new LogbackAuditSink(context, queueSize, target, health);
    }

    @Override
    public void write(AuditEvent event, String line) {
        if (closed) {
            throw new IllegalStateException("audit sink is closed; lost " + line);
        }
        putUninterruptibly(line);
    }

    /** Blocks until every accepted line is written (or given up); the fronts must be stopped first. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        // Held back until the end: an interrupted thread would abandon the waits for the gzips below.
        boolean interrupted = Thread.interrupted();
        writer.closing();
        while (true) {
            try {
                queue.put(AuditWriter.END);
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        while (true) {
            try {
                writerThread.join();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        // Waits for the last rotation's gzip; the earlier ones run on the context's executor.
        output.stop();
        interrupted |= finishRotations();
        context.stop();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Lets the gzips of earlier rotations finish (stopping the context would cancel them and
     * leave rotated files uncompressed under temporary names); returns whether interrupted.
     */
    private boolean finishRotations() {
        if (!(output instanceof FileOutput)) {
            return false;
        }
        ExecutorService compressions = context.getExecutorService();
        compressions.shutdown();
        boolean interrupted = false;
        while (true) {
            try {
                if (!compressions.awaitTermination(ROTATION_WAIT_SECONDS, TimeUnit.SECONDS)) {
                    System.err.println("egressd: audit rotation still compressing after " + ROTATION_WAIT_SECONDS
                            + " s at shutdown; left uncompressed");
                }
                return interrupted;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
    }

    /** Queues a line, waiting while the queue is full; an interrupt does not drop it, and is kept for the caller. */
    private void putUninterruptibly(String line) {
        boolean interrupted = false;
        while (true) {
            try {
                queue.put(line);
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    private static OutputStreamAppender<ILoggingEvent> target(LoggerContext context, AuditOutput output) {
        OutputStreamAppender<ILoggingEvent> appender;
        if (output instanceof AuditOutput.Stdout) {
            appender = new StreamOutput();
            appender.setOutputStream(new BatchStream(new StdoutStream(System.out)));
        } else if (output instanceof AuditOutput.Stream s) {
            appender = new StreamOutput();
            appender.setOutputStream(new BatchStream(new NonClosingStream(s.stream())));
        } else if (notARegularFile(((AuditOutput.RollingFile) output).file())) {
            // A device or a FIFO (/dev/stdout, a log pipe) is written as it is: rotating it would rename it.
            Path path = ((AuditOutput.RollingFile) output).file();
            appender = new StreamOutput();
            try {
                appender.setOutputStream(new BatchStream(new FileOutputStream(path.toFile(), true)));
            } catch (IOException e) {
                throw new IllegalStateException("cannot open audit output " + path + ": " + e.getMessage(), e);
            }
        } else {
            AuditOutput.RollingFile f = (AuditOutput.RollingFile) output;
            FileOutput file = new FileOutput();
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
        // Flushed by the writer once per batch (AuditWriter), not per line.
        appender.setImmediateFlush(false);
        return appender;
    }

    private static boolean notARegularFile(Path path) {
        return Files.exists(path) && !Files.isRegularFile(path);
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
