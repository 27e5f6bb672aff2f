package io.egressd.proxy;

import io.egressd.policy.Decision;
import io.egressd.policy.Protocol;
import java.net.InetSocketAddress;

/**
 * One allowed stream (SOCKS5 or forward): its decision and byte counts, reported to the
 * listener once, at close. Both of its channels live on one event loop, so plain fields do.
 */
final class StreamSession implements Splice.Tally {

    private final Protocol protocol;
    private final InetSocketAddress client;
    private final Decision decision;
    private final GuardedListener listener;
    private final long startNanos = System.nanoTime();
    private long bytesSent;
    private long bytesReceived;
    private boolean ended;

    /** Opens the session and reports the allowed decision. */
    StreamSession(Protocol protocol, InetSocketAddress client, Decision decision, GuardedListener listener) {
        this.protocol = protocol;
        this.client = client;
        this.decision = decision;
        this.listener = listener;
        listener.decided(protocol, client, decision);
    }

    @Override
    public void sent(int bytes) {
        bytesSent += bytes;
    }

    @Override
    public void received(int bytes) {
        bytesReceived += bytes;
    }

    /** Reports the close, once. */
    @Override
    public void end() {
        if (!ended) {
            ended = true;
            listener.closed(protocol, client, decision, bytesSent, bytesReceived,
                    (System.nanoTime() - startNanos) / 1_000_000);
        }
    }
}
