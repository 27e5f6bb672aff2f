package io.egressd.proxy;

import io.egressd.policy.ConnectionCount;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import java.net.InetSocketAddress;
import java.time.Duration;

/**
 * What every connection's gate shares: immutable, or safe to use from any I/O thread.
 *
 * @param tunnelDialer opens a CONNECT tunnel's upstream connection ({@link Upstream#connect}; the
 *                     fuzz test, whose channel has no real loop, records the dial instead)
 */
record GateConfig(RequestDecider decider, GuardedListener listener, Duration connectTimeout,
                  ConnectionCount connections, Duration headerTimeout,
                  ServerLimits serverLimits, TunnelDialer tunnelDialer) {

    /** Opens a connection to a vetted address on the client channel's loop, not reading until told to. */
    @FunctionalInterface
    interface TunnelDialer {
        ChannelFuture connect(Channel client, InetSocketAddress address, long timeoutMillis);
    }
}
