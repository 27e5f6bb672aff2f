package io.egressd.dns;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SimpleResolver;

/**
 * Sends a fresh query (its own random ID, never the client's bytes) to the upstream resolvers,
 * one after the other until one gives a usable answer. The whole exchange fits in the
 * configured timeout: each upstream gets an equal share of it, so a dead first upstream still
 * leaves time for the next.
 */
final class Forwarder {

    private static final Logger log = LoggerFactory.getLogger(Forwarder.class);

    private final List<Upstream> upstreams;
    private final long attemptNanos;
    // Where the next query starts: the last upstream that answered. Racing updates are harmless
    // (any index is a valid start), so a plain atomic without compare-and-set is enough.
    private final AtomicInteger preferred = new AtomicInteger();

    private record Upstream(InetSocketAddress address, SimpleResolver resolver) { }

    Forwarder(List<InetSocketAddress> addresses, Duration timeout) {
        this.attemptNanos = Math.max(1, timeout.toNanos() / addresses.size());
        List<Upstream> list = new ArrayList<>();
        for (InetSocketAddress address : addresses) {
            SimpleResolver resolver = new SimpleResolver(address);
            resolver.setTimeout(Duration.ofNanos(attemptNanos));
            // Ask for answers up to the size we serve over UDP; dnsjava retries over TCP on TC.
            resolver.setEDNS(0, DnsQuery.MAX_UDP_SIZE, 0, List.of());
            list.add(new Upstream(address, resolver));
        }
        this.upstreams = List.copyOf(list);
    }

    /**
     * The first NOERROR or NXDOMAIN answer any upstream gives for {@code name}/{@code type}.
     * Completes exceptionally when none does within the timeout. Nothing here blocks: dnsjava
     * sends on its own selector thread and hands the answer to {@code executor}.
     */
    CompletableFuture<Message> forward(Name name, int type, Executor executor) {
        CompletableFuture<Message> result = new CompletableFuture<>();
        attempt(name, type, preferred.get(), 0, orInline(executor), result);
        return result;
    }

    /**
     * Hands work to {@code executor}, or runs it where it is when the executor has shut down (a
     * late upstream answer after close), so dnsjava's selector thread never sees a rejection.
     */
    static Executor orInline(Executor executor) {
        return task -> {
            try {
                executor.execute(task);
            } catch (RejectedExecutionException e) {
                task.run();
            }
        };
    }

    private void attempt(Name name, int type, int start, int tried, Executor executor,
                         CompletableFuture<Message> result) {
        int index = (start + tried) % upstreams.size();
        Upstream upstream = upstreams.get(index);
        // A new Message per attempt: each carries its own random ID (dnsjava draws it from SecureRandom).
        Message query = Message.newQuery(Record.newRecord(name, type, DClass.IN));
        CompletableFuture<Message> sent;
        try {
            sent = upstream.resolver.sendAsync(query, executor).toCompletableFuture();
        } catch (RuntimeException e) {
            sent = CompletableFuture.failedFuture(e);
        }
        // dnsjava checks its timeouts about once a second; our own deadline keeps the budget exact.
        sent.orTimeout(attemptNanos, TimeUnit.NANOSECONDS)
                .whenCompleteAsync((response, error) -> {
                    if (error == null && usable(response)) {
                        preferred.set(index);
                        result.complete(response);
                        return;
                    }
                    log.debug("upstream {} failed for {}/{}: {}", upstream.address, name, type,
                            error != null ? error.toString() : Rcode.string(response.getRcode()));
                    if (tried + 1 < upstreams.size()) {
                        attempt(name, type, start, tried + 1, executor, result);
                    } else {
                        result.completeExceptionally(new UpstreamException("no upstream answered " + name));
                    }
                }, executor);
    }

    private static boolean usable(Message response) {
        int rcode = response.getRcode();
        return rcode == Rcode.NOERROR || rcode == Rcode.NXDOMAIN;
    }

    /** Every upstream failed or timed out; the client gets SERVFAIL. No stack trace: this is routine. */
    static final class UpstreamException extends Exception {
        private static final long serialVersionUID = 1L;

        UpstreamException(String message) {
            super(message, null, false, false);
        }
    }
}
