package io.egressd.proxy;

import io.egressd.policy.Decision;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Front;
import io.egressd.policy.Protocol;
import io.egressd.policy.Rejection;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Keeps what the proxy reports, as the daemon's audit and metrics would receive it. */
final class RecordingListener implements EgressListener {

    record Decided(Protocol protocol, InetSocketAddress client, Decision decision) { }

    record Closed(Protocol protocol, Decision decision, long bytesSent, long bytesReceived, long durationMillis) { }

    final List<Decided> decided = new CopyOnWriteArrayList<>();
    final List<Closed> closed = new CopyOnWriteArrayList<>();
    final List<Protocol> upstreamConnects = new CopyOnWriteArrayList<>();
    /** Connections closed before a decision, as {@code front/why}: {@code socks5/max_connections}. */
    final List<String> rejected = new CopyOnWriteArrayList<>();

    @Override
    public void rejected(Front front, Rejection why) {
        rejected.add(front.code() + "/" + why.code());
    }

    @Override
    public void upstreamConnected(Protocol protocol, Decision decision, long connectNanos) {
        if (connectNanos > 0 && decision.allowed()) {
            upstreamConnects.add(protocol);
        }
    }

    @Override
    public void decided(Protocol protocol, InetSocketAddress client, Decision decision) {
        decided.add(new Decided(protocol, client, decision));
    }

    @Override
    public void closed(Protocol protocol, InetSocketAddress client, Decision decision, long bytesSent,
                       long bytesReceived, long durationMillis) {
        closed.add(new Closed(protocol, decision, bytesSent, bytesReceived, durationMillis));
    }

    /** The last decision about {@code host}, or null. */
    Decision lastFor(String host) {
        for (int i = decided.size() - 1; i >= 0; i--) {
            if (host.equals(decided.get(i).decision().host())) {
                return decided.get(i).decision();
            }
        }
        return null;
    }

    void clear() {
        decided.clear();
        closed.clear();
        upstreamConnects.clear();
        rejected.clear();
    }
}
