package io.egressd.proxy;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Resolves the names the policy asks about, without blocking the caller: the proxy calls it
 * on an I/O thread that serves many other connections.
 */
@FunctionalInterface
public interface AsyncNameResolver {

    /**
     * Every address of a canonical name, in the order to try them. Completes exceptionally
     * (an {@link java.net.UnknownHostException} when the name does not exist) rather than
     * with an empty list. The proxy stops waiting after its connect timeout either way.
     */
    CompletableFuture<List<InetAddress>> resolve(String name);

    /**
     * The operating system's resolver ({@link InetAddress#getAllByName}, asked for the absolute
     * name so resolv.conf search domains never apply; /etc/hosts first) on a few dedicated
     * daemon threads, giving up after {@code timeout}.
     */
    static AsyncNameResolver system(Duration timeout) {
        return new SystemNameResolver(timeout, 8);
    }
}
