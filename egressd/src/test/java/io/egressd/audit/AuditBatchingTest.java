package io.egressd.audit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8: the audit writer takes queued lines in batches and flushes once per batch. Every
 * line still reaches the output exactly once and in order, a failing batch loses nothing with
 * {@code refuse} and is counted line by line with {@code continue}, and close writes what is queued.
 */
class AuditBatchingTest {

    @TempDir
    Path dir;

    final ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
    final PrintStream err = new PrintStream(errBytes, true, StandardCharsets.UTF_8);

    static String line(int i) {
        return LogbackAuditSinkTest.line(i);
    }

    static List<String> lines(int from, int to) {
        return IntStream.range(from, to).mapToObj(AuditBatchingTest::line).toList();
    }

    /**
     * A stream that records what it is given. Its first write waits for {@link #release} (so
     * that the test can queue lines behind it: the next batch is then full), and the writes
     * numbered in {@code failing} (1-based) hand half their bytes on and then fail, as a disk
     * that fills up in the middle of a write does.
     */
    static final class FaultyStream extends OutputStream {

        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch firstWriteStarted = new CountDownLatch(1);
        private final Set<Integer> failing;
        /** Bytes of the writes that succeeded. */
        final ByteArrayOutputStream good = new ByteArrayOutputStream();
        /** Every byte handed on, including the halves of failed writes. */
        final ByteArrayOutputStream all = new ByteArrayOutputStream();
        final List<Integer> writeSizes = new ArrayList<>();
        private int writes;

        FaultyStream(Integer... failing) {
            this.failing = Set.of(failing);
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            int n;
            synchronized (this) {
                n = ++writes;
            }
            if (n == 1) {
                firstWriteStarted.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
            }
            synchronized (this) {
                writeSizes.add(len);
                if (failing.contains(n)) {
                    all.write(b, off, len / 2);
                    throw new IOException("No space left on device (write " + n + ")");
                }
                all.write(b, off, len);
                good.write(b, off, len);
            }
        }

        synchronized List<String> goodLines() {
            return good.toString(StandardCharsets.UTF_8).lines().toList();
        }

        synchronized String allText() {
            return all.toString(StandardCharsets.UTF_8);
        }
    }

    /** Queues line 0, waits until the writer is stuck writing it, queues the rest behind it, and lets it go on. */
    private static void writeBehindAHeldFirstLine(LogbackAuditSink sink, FaultyStream out, int count)
            throws InterruptedException {
        writeBehindAHeldFirstLineButKeepItHeld(sink, out, count);
        out.release.countDown();
    }

    /** As above, but the first line stays held. */
    private static void writeBehindAHeldFirstLineButKeepItHeld(LogbackAuditSink sink, FaultyStream out, int count)
            throws InterruptedException {
        sink.write(AuditEvent.POLICY_LOADED, line(0));
        assertThat(out.firstWriteStarted.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        for (int i = 1; i < count; i++) {
            sink.write(AuditEvent.POLICY_LOADED, line(i));
        }
    }

    @Test
    void manyThreadsWriteEveryLineExactlyOnceInEachThreadsOrder() throws Exception {
        Path file = dir.resolve("audit.log");
        int threads = 8;
        int perThread = 3000;
        // A small queue, so that writers also block on it and batches are of every size.
        try (LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.RollingFile(file, AuditRotation.DEFAULT),
                64)) {
            List<Thread> writers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int tt = t;
                writers.add(new Thread(() -> {
                    for (int i = 0; i < perThread; i++) {
                        sink.write(AuditEvent.POLICY_LOADED, "{\"event\":\"policy.loaded\",\"policy_version\":\"t" + tt
                                + "-" + i + "\"}");
                    }
                }, "audit-test-writer-" + t));
            }
            writers.forEach(Thread::start);
            for (Thread w : writers) {
                w.join(60_000);
                assertThat(w.isAlive()).isFalse();
            }
        }
        List<String> written = Files.readAllLines(file);
        assertThat(written).hasSize(threads * perThread).doesNotHaveDuplicates();
        Map<Integer, List<Integer>> byThread = new HashMap<>();
        for (String l : written) {
            String v = l.substring(l.indexOf("\"t") + 2, l.lastIndexOf('"'));
            String[] parts = v.split("-");
            byThread.computeIfAbsent(Integer.parseInt(parts[0]), k -> new ArrayList<>()).add(Integer.parseInt(parts[1]));
        }
        assertThat(byThread).hasSize(threads);
        byThread.values().forEach(seen -> assertThat(seen).containsExactlyElementsOf(
                IntStream.range(0, perThread).boxed().toList()));
    }

    @Test
    void rotationsInTheMiddleOfBatchesKeepEveryLineOnceAndInOrder() throws Exception {
        Path file = dir.resolve("audit.log");
        int count = 4000;
        // 8 KiB files of ~85-byte lines: a rotation every ~95 lines, several within each batch of 512,
        // and many in quick succession: close waits for all of their gzips, not only the last one's.
        try (LogbackAuditSink sink = LogbackAuditSink.open(
                new AuditOutput.RollingFile(file, new AuditRotation(8 * 1024, 30, 0)), 4096)) {
            for (int i = 0; i < count; i++) {
                sink.write(AuditEvent.POLICY_LOADED, line(i));
            }
        }
        List<Path> rotated;
        try (var files = Files.list(dir)) {
            rotated = files.filter(p -> p.getFileName().toString().endsWith(".gz"))
                    .sorted(java.util.Comparator.comparingInt(AuditBatchingTest::rotationIndex)).toList();
        }
        assertThat(rotated).hasSizeGreaterThan(30);
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".tmp"))).isEmpty();
        }
        List<String> all = new ArrayList<>();
        for (Path p : rotated) {
            try (var in = new java.util.zip.GZIPInputStream(Files.newInputStream(p))) {
                all.addAll(new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList());
            }
        }
        all.addAll(Files.readAllLines(file));
        assertThat(all).containsExactlyElementsOf(lines(0, count));
    }

    /** The {@code %i} of {@code audit.log.<date>.<i>.gz}. */
    private static int rotationIndex(Path p) {
        String[] parts = p.getFileName().toString().split("\\.");
        return Integer.parseInt(parts[parts.length - 2]);
    }

    @Test
    void linesAreWrittenInBatchesNotOneByOne() throws Exception {
        FaultyStream out = new FaultyStream();
        int count = 2000;
        try (LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.Stream(out), 4096)) {
            writeBehindAHeldFirstLine(sink, out, count);
        }
        assertThat(out.goodLines()).containsExactlyElementsOf(lines(0, count));
        // Line 0 alone, then the 1999 queued behind it in batches of at most 512 lines.
        assertThat(out.writeSizes).hasSize(1 + 4);
    }

    @Test
    void refuseWritesAFailedBatchAgainAndLosesNothing() throws Exception {
        // Write 2 is the first full batch (lines 1-512): half of it reaches the output, then it fails.
        // Write 3 is line 1 alone (after a failure, one line at a time), write 4 the next batch,
        // which fails too; write 5 is line 2 alone again; then batches resume.
        FaultyStream out = new FaultyStream(2, 4);
        AuditHealth health = new AuditHealth(true, err);
        int count = 2000;
        try (LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.Stream(out), 4096, health)) {
            writeBehindAHeldFirstLine(sink, out, count);
            await().atMost(Duration.ofSeconds(10)).until(() -> out.goodLines().size() == count);
            assertThat(health.healthy()).isTrue();
        }
        // What the successful writes carried: every line once, in order.
        assertThat(out.goodLines()).containsExactlyElementsOf(lines(0, count));
        // Beyond that only the cut-short halves of the two failed writes (a few whole lines and a fragment each).
        String all = out.allText();
        assertThat(all.length()).isEqualTo(String.join("\n", lines(0, count)).length() + 1
                + out.writeSizes.get(1) / 2 + out.writeSizes.get(3) / 2);
        assertThat(all).startsWith(line(0) + "\n" + line(1) + "\n" + line(2) + "\n");
        assertThat(health.failedWrites()).isEqualTo(512 + 511);
        assertThat(health.lostLines()).isZero();
        // Each fault and each recovery said once.
        assertThat(errBytes.toString(StandardCharsets.UTF_8).lines()
                .filter(l -> l.contains("audit output cannot be written"))).hasSize(2);
        assertThat(errBytes.toString(StandardCharsets.UTF_8))
                .contains("audit output written again after 512 failed writes")
                .contains("audit output written again after 1023 failed writes");
    }

    @Test
    void continueDropsEachLineOfAFailedBatchAndCountsItExactly() throws Exception {
        FaultyStream out = new FaultyStream(2);
        AuditHealth health = new AuditHealth(false, err);
        int count = 2000;
        try (LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.Stream(out), 4096, health)) {
            writeBehindAHeldFirstLine(sink, out, count);
            // Written (or dropped) while running, before close.
            await().atMost(Duration.ofSeconds(10)).until(() -> out.goodLines().size() == count - 512);
        }
        List<String> expected = new ArrayList<>(lines(0, 1));
        expected.addAll(lines(513, count));
        assertThat(out.goodLines()).containsExactlyElementsOf(expected);
        assertThat(health.lostLines()).isEqualTo(512);
        assertThat(health.failedWrites()).isEqualTo(512);
        assertThat(health.healthy()).isTrue();
        // Lost while running, not at shutdown: nothing printed line by line.
        assertThat(errBytes.toString(StandardCharsets.UTF_8)).doesNotContain("lost at shutdown");
    }

    @Test
    void aFailedFlushFailsTheBatchEvenThoughItsBytesWereWritten() throws Exception {
        // Bytes accepted, flush refused (a buffered stream whose device fails): the batch is not written.
        int[] flushes = {0};
        ByteArrayOutputStream accepted = new ByteArrayOutputStream();
        OutputStream out = new OutputStream() {
            @Override
            public void write(int b) {
                accepted.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                accepted.write(b, off, len);
            }

            @Override
            public void flush() throws IOException {
                if (++flushes[0] == 1) {
                    throw new IOException("flush failed");
                }
            }
        };
        AuditHealth health = new AuditHealth(true, err);
        try (LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.Stream(out), 16, health)) {
            sink.write(AuditEvent.POLICY_LOADED, line(1));
            await().atMost(Duration.ofSeconds(10)).until(() -> flushes[0] >= 2);
        }
        // Written again after the failed flush: the one duplicate a retry of an unflushed batch makes.
        assertThat(accepted.toString(StandardCharsets.UTF_8).lines()).containsExactly(line(1), line(1));
        assertThat(health.failedWrites()).isEqualTo(1);
        assertThat(health.lostLines()).isZero();
    }

    @Test
    void closeWritesEveryQueuedLineWhileTheWriterIsBusy() throws Exception {
        FaultyStream out = new FaultyStream();
        int count = 3000;
        LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.Stream(out), 4096);
        writeBehindAHeldFirstLineButKeepItHeld(sink, out, count);
        Thread closer = new Thread(sink::close, "audit-test-closer");
        closer.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> closer.getState() == Thread.State.WAITING);
        assertThat(closer.isAlive()).as("close waits for the queued lines").isTrue();
        out.release.countDown();
        closer.join(10_000);
        assertThat(closer.isAlive()).isFalse();
        assertThat(out.goodLines()).containsExactlyElementsOf(lines(0, count));
    }

    @Test
    void closeGivesUpLinesThatStillFailWithRefuseAndPrintsThem() {
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("broken");
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                throw new IOException("broken");
            }
        };
        AuditHealth health = new AuditHealth(true, err);
        LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.Stream(broken), 16, health);
        for (int i = 0; i < 3; i++) {
            sink.write(AuditEvent.POLICY_LOADED, line(i));
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> !health.healthy());
        // Retried (refuse) until close, which cuts the pause short and tries each line once more.
        sink.close();
        assertThat(errBytes.toString(StandardCharsets.UTF_8).lines()
                .filter(l -> l.startsWith("egressd: audit line lost at shutdown: ")))
                .containsExactlyElementsOf(lines(0, 3).stream()
                        .map(l -> "egressd: audit line lost at shutdown: " + l).toList());
        assertThat(health.lostLines()).isEqualTo(3);
    }

    @Test
    void anIdleWriterWaitsInTheQueueInsteadOfPolling() throws Exception {
        Path file = dir.resolve("idle.log");
        try (LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.RollingFile(file, AuditRotation.DEFAULT),
                16)) {
            sink.write(AuditEvent.POLICY_LOADED, line(1));
            await().atMost(Duration.ofSeconds(10)).until(() -> Files.readAllLines(file).size() == 1);
            // Polling parks with a timeout (TIMED_WAITING); a writer with nothing to do waits without one.
            await().atMost(Duration.ofSeconds(10)).until(() -> writerStates().contains(Thread.State.WAITING)
                    && !writerStates().contains(Thread.State.TIMED_WAITING)
                    && !writerStates().contains(Thread.State.RUNNABLE));
        }
    }

    private static List<Thread.State> writerStates() {
        ThreadInfo[] all = ManagementFactory.getThreadMXBean().dumpAllThreads(false, false);
        return Arrays.stream(all).filter(t -> t.getThreadName().equals("egressd-audit-writer"))
                .map(ThreadInfo::getThreadState).toList();
    }
}
