package io.egressd.proxy;

import io.netty.channel.embedded.EmbeddedChannel;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/** An {@link EmbeddedChannel} whose client is a loopback address, as the fronts require of an accepted connection. */
final class LoopbackEmbeddedChannel extends EmbeddedChannel {

    static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.9", 40_000);

    @Override
    protected SocketAddress remoteAddress0() {
        return CLIENT;
    }
}
