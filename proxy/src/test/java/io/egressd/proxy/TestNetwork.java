package io.egressd.proxy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The network the stream fronts dial in tests: loopback only. An address the policy vetted
 * that is not loopback (a private database address a test's DNS answered) can be mapped onto a
 * loopback port, as a test network would route it; anything else is refused before a connect.
 */
final class TestNetwork implements Route {

    private final Map<InetSocketAddress, InetSocketAddress> routes = new ConcurrentHashMap<>();
    private final Set<InetAddress> unroutable = ConcurrentHashMap.newKeySet();

    /** Connections the policy lets through to {@code vetted} go to {@code loopback} instead. */
    TestNetwork map(InetSocketAddress vetted, InetSocketAddress loopback) {
        if (!loopback.getAddress().isLoopbackAddress()) {
            throw new IllegalArgumentException("tests dial loopback only, not " + loopback);
        }
        routes.put(vetted, loopback);
        return this;
    }

    /** No route to {@code address}, though it is loopback: what egressd would do with an address it cannot dial. */
    TestNetwork unroutable(InetAddress address) {
        unroutable.add(address);
        return this;
    }

    @Override
    public InetSocketAddress to(InetSocketAddress vetted) {
        if (unroutable.contains(vetted.getAddress())) {
            return null;
        }
        InetSocketAddress routed = routes.getOrDefault(vetted, vetted);
        InetAddress address = routed.getAddress();
        return address != null && address.isLoopbackAddress() ? routed : null;
    }
}
