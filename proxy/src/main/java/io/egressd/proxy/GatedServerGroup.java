package io.egressd.proxy;

import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoopGroup;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.littleshoot.proxy.TransportProtocol;
import org.littleshoot.proxy.impl.ServerGroup;

/** LittleProxy's thread pools, with the client workers handing out gated channels. */
final class GatedServerGroup extends ServerGroup {

    private final Supplier<? extends ChannelHandler> gates;
    private GateInstallingGroup clientWorkers;

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

    /**
     * LittleProxy calls this once its channels are closed. Its graceful variant waits out a
     * two-second quiet period; the channels are already gone, so stop the loops at once and
     * only wait for them to finish.
     */
    @Override
    public void shutdown(boolean graceful) {
        super.shutdown(false);
        if (graceful) {
            try {
                for (EventLoopGroup group : new EventLoopGroup[] {
                        super.getClientToProxyAcceptorPoolForTransport(TransportProtocol.TCP),
                        super.getClientToProxyWorkerPoolForTransport(TransportProtocol.TCP),
                        super.getProxyToServerWorkerPoolForTransport(TransportProtocol.TCP)}) {
                    group.awaitTermination(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
