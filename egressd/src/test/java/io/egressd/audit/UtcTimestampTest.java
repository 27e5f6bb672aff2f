package io.egressd.audit;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Random;
import org.junit.jupiter.api.Test;

class UtcTimestampTest {

    private static final DateTimeFormatter REFERENCE =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

    @Test
    void everyMillisecondOfASecondAndItsNeighboursIsFormattedAsTheReferenceDoes() {
        UtcTimestamp time = new UtcTimestamp();
        Instant base = Instant.parse("2026-12-31T23:59:59Z");
        for (long millis = -1500; millis < 2500; millis++) {
            Instant at = base.plusMillis(millis).plusNanos(999_999);
            assertThat(time.format(at)).as("%s", at).isEqualTo(REFERENCE.format(at));
        }
    }

    @Test
    void instantsInAnyOrderAreFormattedAsTheReferenceDoes() {
        UtcTimestamp time = new UtcTimestamp();
        Random random = new Random(42);
        for (int i = 0; i < 20_000; i++) {
            // Back and forth across seconds, so the cached second is often the wrong one.
            Instant at = Instant.ofEpochMilli(1_700_000_000_000L + random.nextInt(10_000) - (i % 3) * 1000L);
            assertThat(time.format(at)).isEqualTo(REFERENCE.format(at));
        }
        assertThat(time.format(Instant.EPOCH)).isEqualTo("1970-01-01T00:00:00.000Z");
    }
}
