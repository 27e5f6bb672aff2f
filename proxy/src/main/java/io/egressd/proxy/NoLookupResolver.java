package io.egressd.proxy;

import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import org.littleshoot.proxy.HostResolver;

/**
 * LittleProxy's resolver, as a backstop: every allowed request arrives with its vetted
 * address already resolved, so a lookup here would be a second, unvetted one. Refuse it.
 */
final class NoLookupResolver implements HostResolver {

    @Override
    public InetSocketAddress resolve(String host, int port) throws UnknownHostException {
        throw new UnknownHostException("egressd dials only vetted addresses; refusing to look up " + host);
    }
}
