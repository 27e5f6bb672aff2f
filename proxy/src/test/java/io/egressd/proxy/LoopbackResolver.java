package io.egressd.proxy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A resolver for tests that can only ever answer loopback addresses: it refuses to be set up
 * with anything else, so no test can send traffic off this machine. Answers arrive on another
 * thread after a short delay, as from a real resolver; a name can be made to hang forever, and
 * a name can answer differently on each call (DNS rebinding).
 */
final class LoopbackResolver implements AsyncNameResolver {

    private final Map<String, List<List<InetAddress>>> answers = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    private final Set<String> hanging = ConcurrentHashMap.newKeySet();
    private final List<CompletableFuture<List<InetAddress>>> hung = new CopyOnWriteArrayList<>();
    private final Executor later = CompletableFuture.delayedExecutor(5, TimeUnit.MILLISECONDS);

    /** Adds one answer for {@code name}; successive calls get successive answers, the last one repeats. */
    LoopbackResolver answer(String name, String... addresses) {
        List<InetAddress> parsed = new ArrayList<>();
        for (String a : addresses) {
            InetAddress address = literal(a);
            if (!address.isLoopbackAddress()) {
                throw new IllegalArgumentException("tests resolve to loopback only, not " + a);
            }
            parsed.add(address);
        }
        answers.computeIfAbsent(name, k -> new CopyOnWriteArrayList<>()).add(List.copyOf(parsed));
        return this;
    }

    /** Lookups of {@code name} never complete. */
    LoopbackResolver hang(String name) {
        hanging.add(name);
        return this;
    }

    int calls(String name) {
        AtomicInteger n = calls.get(name);
        return n == null ? 0 : n.get();
    }

    int hungLookups() {
        return hung.size();
    }

    @Override
    public CompletableFuture<List<InetAddress>> resolve(String name) {
        int call = calls.computeIfAbsent(name, k -> new AtomicInteger()).getAndIncrement();
        if (hanging.contains(name)) {
            CompletableFuture<List<InetAddress>> never = new CompletableFuture<>();
            hung.add(never);
            return never;
        }
        List<List<InetAddress>> sequence = answers.get(name);
        if (sequence == null || sequence.isEmpty()) {
            return CompletableFuture.failedFuture(new UnknownHostException(name));
        }
        List<InetAddress> answer = sequence.get(Math.min(call, sequence.size() - 1));
        return CompletableFuture.supplyAsync(() -> answer, later);
    }

    private static InetAddress literal(String ip) {
        try {
            // A literal: getByName does not look anything up for it.
            return InetAddress.getByName(ip);
        } catch (UnknownHostException e) {
            throw new IllegalArgumentException(ip, e);
        }
    }
}
