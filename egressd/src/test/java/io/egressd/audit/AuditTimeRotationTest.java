package io.egressd.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The audit file rotates at midnight UTC: the first line written on a new UTC day moves the
 * previous day's lines into {@code <file>.<that day>.0.gz} and starts the file afresh, losing
 * none. Logback takes the live file's day from its modification time when the output opens,
 * and rolls at the first line whose time is past the end of that day; so a file last written
 * before midnight (its time set back here) is exactly what a daemon meets on its first line
 * after midnight, through the same rollover, rename, gzip and reopen.
 */
class AuditTimeRotationTest {

    @TempDir
    Path dir;

    static String line(int i) {
        return "{\"time\":\"2025-11-27T09:04:05.123Z\",\"event\":\"policy.loaded\",\"policy_version\":\"d" + i + "\"}";
    }

    static List<String> lines(int from, int to) {
        return IntStream.range(from, to).mapToObj(AuditTimeRotationTest::line).toList();
    }

    private void write(Path file, int from, int to) {
        try (LogbackAuditSink sink = LogbackAuditSink.open(new AuditOutput.RollingFile(file, AuditRotation.DEFAULT),
                LogbackAuditSink.DEFAULT_QUEUE_SIZE)) {
            for (int i = from; i < to; i++) {
                sink.write(AuditEvent.POLICY_LOADED, line(i));
            }
        }
    }

    /** Makes the file look last written at 23:59:59 UTC on {@code day}. */
    private static void lastWrittenOn(Path file, LocalDate day) throws IOException {
        Instant beforeMidnight = day.atTime(LocalTime.of(23, 59, 59)).toInstant(ZoneOffset.UTC);
        Files.setLastModifiedTime(file, FileTime.from(beforeMidnight));
    }

    private static List<String> gunzip(Path gz) throws IOException {
        try (InputStream in = new GZIPInputStream(Files.newInputStream(gz))) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
    }

    @Test
    void theFirstLineOfANewUtcDayRollsTheDayBeforeIntoItsGzipWithoutLosingALine() throws IOException {
        Path file = dir.resolve("audit.log");
        LocalDate today = LocalDate.now(ZoneOffset.UTC);
        LocalDate twoDaysAgo = today.minusDays(2);
        LocalDate yesterday = today.minusDays(1);

        write(file, 0, 300);
        lastWrittenOn(file, twoDaysAgo);
        write(file, 300, 700);
        lastWrittenOn(file, yesterday);
        write(file, 700, 1000);

        List<String> names;
        try (Stream<Path> files = Files.list(dir)) {
            names = files.map(p -> p.getFileName().toString()).sorted().toList();
        }
        String first = "audit.log." + twoDaysAgo + ".0.gz";
        String second = "audit.log." + yesterday + ".0.gz";
        assertThat(names).containsExactly("audit.log", first, second);
        assertThat(first).matches("audit\\.log\\.\\d{4}-\\d{2}-\\d{2}\\.0\\.gz");
        // Each day's lines in its own file, in order; today's in the live file; none lost or repeated.
        assertThat(gunzip(dir.resolve(first))).containsExactlyElementsOf(lines(0, 300));
        assertThat(gunzip(dir.resolve(second))).containsExactlyElementsOf(lines(300, 700));
        assertThat(Files.readAllLines(file)).containsExactlyElementsOf(lines(700, 1000));
    }

    @Test
    void withinTheSameUtcDayNothingRolls() throws IOException {
        Path file = dir.resolve("audit.log");
        write(file, 0, 100);
        // Earlier today: the same period, so the next output appends.
        Instant midnight = LocalDate.now(ZoneOffset.UTC).atStartOfDay().toInstant(ZoneOffset.UTC);
        Files.setLastModifiedTime(file, FileTime.from(midnight));
        write(file, 100, 200);

        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString())).containsExactly("audit.log");
        }
        assertThat(Files.readAllLines(file)).containsExactlyElementsOf(lines(0, 200));
    }
}
