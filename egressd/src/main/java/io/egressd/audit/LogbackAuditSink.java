package io.egressd.audit;

import ch.qos.logback.classic.AsyncAppender;
import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.util.LogbackMDCAdapter;
import ch.qos.logback.core.OutputStreamAppender;
import ch.qos.logback.core.rolling.SizeAndTimeBasedRollingPolicy;
import ch.qos.logback.core.spi.LifeCycle;
import ch.qos.logback.core.status.Status;
import ch.qos.logback.core.util.FileSize;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;

/**
 * Audit lines through the dedicated logback logger {@code egressd.audit}, in a logger context
 * of its own so that no logback.xml (and no reset of the application's logging) can detach,
 * filter or redirect the audit trail.
 *
 * <p>Lines pass through an {@link AsyncAppender} so that I/O threads do not wait on the disk or
 * the stdout pipe, configured never to lose one: discardingThreshold 0 (no level is dropped when
 * the queue fills), neverBlock false (a full queue blocks the caller, which is back-pressure on
 * the client that causes the events), and an unbounded flush on close (every queued line is
 * written before close returns).
 *
 * <p>The output is written through {@link Shield}, which reports each line's outcome to
 * {@link AuditHealth} and, while the output fails, retries the line or gives it up as
 * {@code audit.on_failure} says; {@link FileOutput} and {@link StreamOutput} make sure a failed
 * write is seen at all (logback's own appenders stop, or drop lines while they retry).
 */
public final class LogbackAuditSink implements AuditSink {

    /** Lines held in memory before callers block. */
    public static final int DEFAULT_QUEUE_SIZE = 8192;

    static final String LOGGER = "egressd.audit";

    private final LoggerContext context;
    private final Logger logger;
    private final AsyncAppender queue;
    private final Shield shield;
    private final OutputStreamAppender<ILoggingEvent> output;
    // Volatile so a write racing close sees it and fails loudly instead of vanishing into a stopped appender.
    private volatile boolean closed;

    private LogbackAuditSink(LoggerContext context, Logger logger, AsyncAppender queue, Shield shield,
                             OutputStreamAppender<ILoggingEvent> output) {
        this.context = context;
        this.logger = logger;
        this.queue = queue;
        this.shield = shield;
        this.output = output;
    }

    /**
     * Opens the output and starts the queue.
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
        LoggerContext context = new LoggerContext();
        context.setName("egressd-audit");
        // A context built by hand has no MDC adapter; the async queue needs one to copy events.
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

        Shield shield = new Shield((LineOutput) target, health);
        shield.setContext(context);
        shield.setName("audit-shield");
        shield.start();

        AsyncAppender queue = new AsyncAppender();
        queue.setContext(context);
        queue.setName("audit-queue");
        queue.setQueueSize(queueSize);
        queue.setDiscardingThreshold(0);
        queue.setNeverBlock(false);
        queue.setMaxFlushTime(0);
        queue.setIncludeCallerData(false);
        queue.addAppender(shield);
        queue.start();
        requireStarted(context, queue, "audit queue");

        Logger logger = context.getLogger(LOGGER);
        logger.setLevel(Level.INFO);
        logger.setAdditive(false);
        logger.addAppender(queue);
        return new LogbackAuditSink(context, logger, queue, shield, target);
    }

    @Override
    public void write(AuditEvent event, String line) {
        if (closed) {
            throw new IllegalStateException("audit sink is closed; lost " + line);
        }
        logger.info(line);
    }

    /** Blocks until every accepted line is written; the fronts must be stopped first. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        shield.closing();
        // Every line accepted before this one is written once it arrives; the worker is then idle.
        logger.info(Shield.FLUSH, "flush");
        shield.awaitFlush();
        // Stopping interrupts the idle worker, which writes anything that slipped in meanwhile (maxFlushTime 0).
        queue.stop();
        // Stopped here, on a thread nobody interrupted, so a rotation's last gzip is waited for.
        output.stop();
        context.stop();
    }

    private static OutputStreamAppender<ILoggingEvent> target(LoggerContext context, AuditOutput output) {
        OutputStreamAppender<ILoggingEvent> appender;
        if (output instanceof AuditOutput.Stdout) {
            appender = new StreamOutput();
            appender.setOutputStream(new StdoutStream(System.out));
        } else if (output instanceof AuditOutput.Stream s) {
            appender = new StreamOutput();
            appender.setOutputStream(new NonClosingStream(s.stream()));
        } else if (notARegularFile(((AuditOutput.RollingFile) output).file())) {
            // A device or a FIFO (/dev/stdout, a log pipe) is written as it is: rotating it would rename it.
            Path path = ((AuditOutput.RollingFile) output).file();
            appender = new StreamOutput();
            try {
                appender.setOutputStream(new FileOutputStream(path.toFile(), true));
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
        // Flushed per line: a crash loses nothing already accepted by the queue's writer.
        appender.setImmediateFlush(true);
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
