package io.egressd.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelPipeline;
import java.lang.reflect.Field;
import org.littleshoot.proxy.impl.ClientToProxyConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The upstream channel of a LittleProxy CONNECT tunnel. LittleProxy hands it to no hook (for a
 * tunnel, {@code proxyToServerConnectionSucceeded} is never called), so it is read from
 * LittleProxy's client handler: its current server connection, and that connection's channel.
 * Tied to LittleProxy's internals (2.8.0); if they change, this finds nothing, tunnels end as
 * before (a reset passed on as a FIN), and {@code UpstreamFaultsTest} fails.
 */
final class TunnelUpstream {

    private static final Logger log = LoggerFactory.getLogger(TunnelUpstream.class);
    private static final Field SERVER_CONNECTION;
    private static final Field CHANNEL;

    static {
        Field server = null;
        Field channel = null;
        try {
            server = ClientToProxyConnection.class.getDeclaredField("currentServerConnection");
            server.setAccessible(true);
            channel = ClientToProxyConnection.class.getSuperclass().getDeclaredField("channel");
            channel.setAccessible(true);
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.warn("cannot find LittleProxy's tunnel upstream; resets in tunnels reach clients as a close", e);
            server = null;
            channel = null;
        }
        SERVER_CONNECTION = server;
        CHANNEL = channel;
    }

    private TunnelUpstream() {
    }

    /** The upstream channel of the tunnel in {@code clientPipeline}, or null if there is none (yet). */
    static Channel of(ChannelPipeline clientPipeline) {
        if (SERVER_CONNECTION == null
                || !(clientPipeline.get(GateInstallingGroup.LITTLEPROXY_HANDLER) instanceof ClientToProxyConnection c)) {
            return null;
        }
        try {
            Object server = SERVER_CONNECTION.get(c);
            return server == null ? null : (Channel) CHANNEL.get(server);
        } catch (ReflectiveOperationException | RuntimeException e) {
            log.debug("no tunnel upstream", e);
            return null;
        }
    }
}
