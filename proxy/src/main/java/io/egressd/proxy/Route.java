package io.egressd.proxy;

import java.net.InetSocketAddress;

/**
 * Where a vetted address is really dialed. In production that is the address itself; tests
 * map addresses onto loopback and refuse everything else, so that no bug can send a test's
 * traffic off the machine.
 */
@FunctionalInterface
interface Route {

    Route DIRECT = vetted -> vetted;

    /** The address to connect to for {@code vetted}; null to refuse dialing it. */
    InetSocketAddress to(InetSocketAddress vetted);
}
