package io.egressd.policy;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;

/** Resolves a canonical name; supplied by the caller so that the policy engine stays free of I/O. */
@FunctionalInterface
public interface NameResolver {
    /** Every address of {@code name}, in the order to try them; never empty. */
    List<InetAddress> resolve(String name) throws UnknownHostException;
}
