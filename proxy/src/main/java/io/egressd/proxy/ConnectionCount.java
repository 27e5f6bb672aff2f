package io.egressd.proxy;

import java.util.concurrent.atomic.AtomicInteger;

/** Client connections held now, against {@code max_connections}. */
final class ConnectionCount {

    private final int max;
    // Opened and closed on every client I/O thread; an atomic counter is all they share.
    private final AtomicInteger open = new AtomicInteger();

    ConnectionCount(int max) {
        this.max = max;
    }

    /** Counts a new connection; false when it is beyond the limit (it is counted all the same). */
    boolean opened() {
        return open.incrementAndGet() <= max;
    }

    void closed() {
        open.decrementAndGet();
    }

    int open() {
        return open.get();
    }
}
