package io.egressd.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoopGroup;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.littleshoot.proxy.TransportProtocol;
import org.littleshoot.proxy.impl.ServerGroup;

/** LittleProxy's thread pools, with the client workers handing out gated channels. */
final class GatedServerGroup extends ServerGroup {

    /** Long enough for the close notifications of the last channels to run, short enough for a quick exit. */
    private static final long QUIET_MILLIS = 100;

    private final Supplier<? extends ChannelHandler> gates;
    private final AtomicBoolean stopped = new AtomicBoolean();
    private GateInstallingGroup clientWorkers;
    private CallerLoopGroup upstreamWorkers;
    private RegisteringGroup acceptors;
    /** The listening channels LittleProxy bound, seen as they registered with the acceptor group. */
    private final List<Channel> listeners = new CopyOnWriteArrayList<>();

    GatedServerGroup(String name, ProxySettings settings, Supplier<? extends ChannelHandler> gates) {
        super(name, settings.acceptorThreads(), settings.clientThreads(), settings.upstreamThreads(), true);
        this.gates = gates;
    }

    @Override
    public synchronized EventLoopGroup getClientToProxyWorkerPoolForTransport(TransportProtocol protocol) {
        // Synchronized: LittleProxy asks once at start, but nothing promises it asks from one thread.
        if (clientWorkers == null) {
            clientWorkers = new GateInstallingGroup(super.getClientToProxyWorkerPoolForTransport(protocol), gates);
        }
        return clientWorkers;
    }

    @Override
    public synchronized EventLoopGroup getClientToProxyAcceptorPoolForTransport(TransportProtocol protocol) {
        if (acceptors == null) {
            acceptors = new RegisteringGroup(super.getClientToProxyAcceptorPoolForTransport(protocol)) {
                @Override
                void registering(Channel channel) {
                    listeners.add(channel);
                }
            };
        }
        return acceptors;
    }

    /** Upstream channels live on the loop of the client channel that opened them (see CallerLoopGroup). */
    @Override
    public synchronized EventLoopGroup getProxyToServerWorkerPoolForTransport(TransportProtocol protocol) {
        if (upstreamWorkers == null) {
            upstreamWorkers = new CallerLoopGroup(super.getClientToProxyWorkerPoolForTransport(protocol));
        }
        return upstreamWorkers;
    }

    /** Closes the listening sockets: new connections are refused, open ones carry on. */
    void stopAccepting() {
        for (Channel listener : listeners) {
            listener.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
    }

    /**
     * LittleProxy calls this once its channels are closed. Its own version either waits out a
     * two-second quiet period or stops the loops before the last close notifications ran (and
     * Netty logs each one it drops); a short quiet period does neither.
     */
    @Override
    public void shutdown(boolean graceful) {
        if (!stopped.compareAndSet(false, true)) {
            return;
        }
        List<EventLoopGroup> groups = List.of(
                super.getClientToProxyAcceptorPoolForTransport(TransportProtocol.TCP),
                super.getClientToProxyWorkerPoolForTransport(TransportProtocol.TCP),
                super.getProxyToServerWorkerPoolForTransport(TransportProtocol.TCP));
        for (EventLoopGroup group : groups) {
            group.shutdownGracefully(QUIET_MILLIS, graceful ? 5000 : QUIET_MILLIS, TimeUnit.MILLISECONDS);
        }
        if (graceful) {
            try {
                for (EventLoopGroup group : groups) {
                    group.awaitTermination(6, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public boolean isStopped() {
        return stopped.get() || super.isStopped();
    }
}
