package io.egressd.audit;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.rolling.RollingFileAppender;
import ch.qos.logback.core.util.FileUtil;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;

/**
 * The audit file, rotated by logback, with its failures reaching the writer: a plain file
 * stream behind the batch buffer instead of logback's resilient one (which drops lines while
 * it retries), and a check before each batch that the path still names the file being
 * written. A file whose directory was removed, or which was moved or replaced, would
 * otherwise swallow every line unseen; it is opened again instead, and if that fails (the
 * directory is gone, the path is a directory now, permission is denied), the batch fails.
 *
 * <p>Logback decides on rotation per line, before writing it; the lines of the batch added
 * before that belong to the file being rotated, so they are flushed into it first.
 */
final class FileOutput extends RollingFileAppender<ILoggingEvent> implements LineOutput {

    /** The identity (device and inode) of the file open now; null before the first open. */
    private Object openKey;
    /** Whether the last {@link #writeLine} flushed the batch before its line (a rotation did). */
    private boolean flushedByRotation;

    @Override
    public void beginBatch() throws IOException {
        LineOutput.super.beginBatch();
        if (getOutputStream() == null || !stillOpenAtPath()) {
            openFile(getFile());
        }
    }

    @Override
    public void writeLine(ILoggingEvent event) throws IOException {
        flushedByRotation = false;
        if (getOutputStream() == null) {
            openFile(getFile());
        }
        LineOutput.append(() -> subAppend(event));
    }

    @Override
    public boolean flushedBeforeLastLine() {
        return flushedByRotation;
    }

    @Override
    public void flush() throws IOException {
        if (getOutputStream() == null) {
            throw new IOException("cannot open " + getFile());
        }
        LineOutput.super.flush();
    }

    @Override
    protected void subAppend(ILoggingEvent event) {
        super.subAppend(event);
    }

    /**
     * Flushes the batch so far into the file being rotated. If that fails the rotation still
     * goes ahead (the policy has already moved on to the next file) and the line then fails,
     * so that the writer writes the batch's unflushed lines again, into the new file.
     */
    @Override
    public void rollover() {
        OutputStream out = getOutputStream();
        IOException failed = null;
        if (out != null) {
            try {
                out.flush();
                flushedByRotation = true;
            } catch (IOException e) {
                failed = e;
            }
        }
        super.rollover();
        if (failed != null) {
            throw new WriteFailed(failed);
        }
    }

    @Override
    protected void writeOut(ILoggingEvent event) throws IOException {
        try {
            if (getOutputStream() == null) {
                // A rollover closed the file and could not open the new one.
                throw new IOException("cannot open " + getFile());
            }
            super.writeOut(event);
        } catch (IOException e) {
            // Unchecked past subAppend's catch, which would stop this appender for good.
            throw new WriteFailed(e);
        }
    }

    /** Opens (or, after a rollover or a failure, reopens) the file for appending. */
    @Override
    public void openFile(String fileName) throws IOException {
        streamWriteLock.lock();
        try {
            File file = new File(fileName);
            if (openKey == null) {
                // At start only: a directory removed later is a failure, not something to re-create unseen.
                FileUtil.createMissingParentDirectories(file);
            }
            FileOutputStream out = new FileOutputStream(file, append);
            Object key;
            try {
                key = key(file.toPath());
            } catch (IOException e) {
                out.close(); // removed between the open and the look: not a descriptor to keep
                throw e;
            }
            setOutputStream(new BatchStream(out));
            openKey = key;
        } finally {
            streamWriteLock.unlock();
        }
    }

    private boolean stillOpenAtPath() {
        try {
            return Objects.equals(openKey, key(Path.of(getFile())));
        } catch (IOException e) {
            return false; // gone, or its directory is
        }
    }

    private static Object key(Path path) throws IOException {
        Object key = Files.readAttributes(path, BasicFileAttributes.class).fileKey();
        // Without file keys (not on Linux) the check cannot tell; the path is trusted.
        return key == null ? path : key;
    }
}
