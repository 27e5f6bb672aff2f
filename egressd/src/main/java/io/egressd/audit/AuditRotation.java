package io.egressd.audit;

/**
 * How a file audit output rotates: daily, and when the live file reaches {@code maxFileSizeBytes};
 * rotated files are gzipped and deleted after {@code maxHistoryDays} days or when all of them
 * together pass {@code totalSizeCapBytes} (0: no cap).
 */
public record AuditRotation(long maxFileSizeBytes, int maxHistoryDays, long totalSizeCapBytes) {

    /** 100 MB files, 30 days, 10 GB in all. */
    public static final AuditRotation DEFAULT = new AuditRotation(100L << 20, 30, 10L << 30);

    public AuditRotation {
        if (maxFileSizeBytes < 1 || maxHistoryDays < 0 || totalSizeCapBytes < 0) {
            throw new IllegalArgumentException("bad audit rotation " + maxFileSizeBytes + "/" + maxHistoryDays
                    + "/" + totalSizeCapBytes);
        }
    }
}
