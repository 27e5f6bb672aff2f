package io.egressd.policy;

import java.net.InetSocketAddress;

/**
 * One entry of an allowlist's {@code forwards}: a TCP listener that belongs to one server and
 * leads to one destination. Every connection to {@code listen} is decided like a CONNECT to
 * {@code to} by that server (the name resolved again, vetted, pinned), so a client that knows
 * no proxy protocol (a database driver) still goes through the policy.
 *
 * @param id     names the entry in audit logs and errors: {@code allowlists/postgres.yaml#forwards[0]}
 * @param server the server every client of the listener is
 * @param listen where egressd listens: an IP literal and a port
 * @param to     the destination, host canonicalized ({@code db.internal.example.com:5432}, {@code [2001:db8::5]:5432})
 */
public record Forward(String id, String server, InetSocketAddress listen, Destination to) {

    /** Whether two listeners could not both be bound: same port, and the same address or a wildcard. */
    boolean clashes(Forward other) {
        return clashes(listen, other.listen);
    }

    static boolean clashes(InetSocketAddress a, InetSocketAddress b) {
        if (a.getPort() != b.getPort()) {
            return false;
        }
        // A wildcard listener takes the port on every address (and [::] usually both families).
        return a.getAddress().equals(b.getAddress()) || a.getAddress().isAnyLocalAddress()
                || b.getAddress().isAnyLocalAddress();
    }
}
