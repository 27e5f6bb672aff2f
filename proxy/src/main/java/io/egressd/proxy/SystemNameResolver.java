package io.egressd.proxy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** {@link InetAddress#getAllByName} made asynchronous. */
final class SystemNameResolver implements AsyncNameResolver {

    private final Duration timeout;
    // getAllByName blocks and cannot be interrupted, so it gets threads of its own, never an I/O thread.
    private final ExecutorService lookups;

    SystemNameResolver(Duration timeout, int threads) {
        this.timeout = timeout;
        AtomicInteger n = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, "egressd-dns-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        this.lookups = Executors.newFixedThreadPool(threads, factory);
    }

    @Override
    public CompletableFuture<List<InetAddress>> resolve(String name) {
        CompletableFuture<List<InetAddress>> result = new CompletableFuture<>();
        lookups.execute(() -> {
            if (result.isDone()) {
                return; // timed out while queued behind slow lookups
            }
            try {
                InetAddress[] found = InetAddress.getAllByName(name);
                if (found.length == 0) {
                    throw new UnknownHostException(name);
                }
                result.complete(List.of(found));
            } catch (UnknownHostException | RuntimeException e) {
                result.completeExceptionally(e);
            }
        });
        return result.orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }
}
