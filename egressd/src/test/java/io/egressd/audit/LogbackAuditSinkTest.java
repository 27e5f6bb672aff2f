package io.egressd.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The logback sink writes every line it accepts, rotates files without losing one, and blocks when full. */
class LogbackAuditSinkTest {

    @TempDir
    Path dir;

    static String line(int i) {
        return "{\"time\":\"2025-11-27T09:04:05.123Z\",\"event\":\"policy.loaded\",\"policy_version\":\"v" + i + "\"}";
    }

    @Test
    void fileOutputHasEveryLineInOrder() throws IOException {
        Path file = dir.resolve("audit/audit.log");
        try (LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.RollingFile(file, AuditRotation.DEFAULT),
                LogbackAuditSink.DEFAULT_QUEUE_SIZE)) {
            for (int i = 0; i < 500; i++) {
                sink.write(AuditEvent.POLICY_LOADED, line(i));
            }
        }
        assertThat(Files.readAllLines(file)).containsExactlyElementsOf(IntStream.range(0, 500)
                .mapToObj(LogbackAuditSinkTest::line).toList());
    }

    @Test
    void rotatesBySizeIntoGzipFilesWithoutLosingALine() throws IOException {
        Path file = dir.resolve("audit.log");
        int count = 3000;
        try (LogbackAuditSink sink = LogbackAuditSink.open(
                new AuditOutput.RollingFile(file, new AuditRotation(16 * 1024, 30, 0)), 64)) {
            for (int i = 0; i < count; i++) {
                sink.write(AuditEvent.POLICY_LOADED, line(i));
            }
        }
        List<Path> rotated;
        try (Stream<Path> files = Files.list(dir)) {
            rotated = files.filter(p -> p.getFileName().toString().endsWith(".gz")).sorted().toList();
        }
        assertThat(rotated).hasSizeGreaterThan(3);
        assertThat(rotated).allSatisfy(p -> assertThat(p.getFileName().toString())
                .matches("audit\\.log\\.\\d{4}-\\d{2}-\\d{2}\\.\\d+\\.gz"));
        List<String> all = new ArrayList<>();
        for (Path p : rotated) {
            try (InputStream in = new GZIPInputStream(Files.newInputStream(p))) {
                all.addAll(new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList());
            }
        }
        all.addAll(Files.readAllLines(file));
        assertThat(all).hasSize(count);
        assertThat(all).containsExactlyInAnyOrderElementsOf(IntStream.range(0, count)
                .mapToObj(LogbackAuditSinkTest::line).toList());
    }

    @Test
    void fullQueueBlocksTheWriterInsteadOfDiscarding() throws Exception {
        CountDownLatch open = new CountDownLatch(1);
        ByteArrayOutputStream written = new ByteArrayOutputStream();
        OutputStream gate = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                try {
                    open.await();
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
                synchronized (written) {
                    written.write(b, off, len);
                }
            }
        };
        int count = 50;
        LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.Stream(gate), 4);
        Thread writer = new Thread(() -> {
            for (int i = 0; i < count; i++) {
                sink.write(AuditEvent.POLICY_LOADED, line(i));
            }
        }, "audit-writer");
        writer.start();

        await().atMost(Duration.ofSeconds(10)).until(() -> writer.getState() == Thread.State.WAITING);
        assertThat(writer.isAlive()).as("blocked on the full queue, not done and not dropping").isTrue();

        open.countDown();
        writer.join(10_000);
        assertThat(writer.isAlive()).isFalse();
        sink.close();
        List<String> lines;
        synchronized (written) {
            lines = written.toString(StandardCharsets.UTF_8).lines().toList();
        }
        assertThat(lines).containsExactlyElementsOf(IntStream.range(0, count)
                .mapToObj(LogbackAuditSinkTest::line).toList());
    }

    @Test
    void closeWritesEveryQueuedLineEvenToAnOutputThatAnInterruptWouldBreak() throws Exception {
        ByteArrayOutputStream written = new ByteArrayOutputStream();
        // Slow, and failing if the writing thread is interrupted (as an interruptible channel would).
        OutputStream slow = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public synchronized void write(byte[] b, int off, int len) throws IOException {
                try {
                    Thread.sleep(1);
                } catch (InterruptedException e) {
                    throw new IOException("interrupted while writing", e);
                }
                written.write(b, off, len);
            }
        };
        int count = 300;
        LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.Stream(slow), 1024);
        for (int i = 0; i < count; i++) {
            sink.write(AuditEvent.POLICY_LOADED, line(i));
        }
        sink.close();
        sink.close();
        synchronized (slow) {
            assertThat(written.toString(StandardCharsets.UTF_8).lines()).containsExactlyElementsOf(
                    IntStream.range(0, count).mapToObj(LogbackAuditSinkTest::line).toList());
        }
    }

    @Test
    void stdoutOutputWritesToStandardOutput() {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            try (LogbackAuditSink sink = LogbackAuditSink.open(AuditOutput.of("stdout", AuditRotation.DEFAULT), 16)) {
                sink.write(AuditEvent.POLICY_LOADED, line(1));
                sink.write(AuditEvent.POLICY_LOADED, line(2));
            }
        } finally {
            System.setOut(original);
        }
        assertThat(captured.toString(StandardCharsets.UTF_8).lines()).containsExactly(line(1), line(2));
    }

    @Test
    void anUnopenableFileFailsAtOpenNotSilentlyLater() throws IOException {
        Path notADirectory = Files.writeString(dir.resolve("plain-file"), "x");
        assertThatThrownBy(() -> LogbackAuditSink.open(
                AuditOutput.of(notADirectory.resolve("audit.log").toString(), AuditRotation.DEFAULT), 16))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("audit.log");
    }

    @Test
    void writingAfterCloseFailsLoudly() {
        LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.Stream(new ByteArrayOutputStream()), 16);
        sink.close();
        assertThatThrownBy(() -> sink.write(AuditEvent.POLICY_LOADED, line(1)))
                .isInstanceOf(IllegalStateException.class);
    }
}
