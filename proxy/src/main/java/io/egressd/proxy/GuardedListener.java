package io.egressd.proxy;

import io.egressd.policy.Decision;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Front;
import io.egressd.policy.Protocol;
import io.egressd.policy.Rejection;
import java.net.InetSocketAddress;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The daemon's listener, kept from turning its own failures into dropped client connections. */
final class GuardedListener implements EgressListener {

    private static final Logger log = LoggerFactory.getLogger(GuardedListener.class);

    private final EgressListener delegate;

    GuardedListener(EgressListener delegate) {
        this.delegate = delegate == null ? EgressListener.NONE : delegate;
    }

    @Override
    public void decided(Protocol protocol, InetSocketAddress client, Decision decision) {
        try {
            delegate.decided(protocol, client, decision);
        } catch (RuntimeException e) {
            log.warn("egress listener failed on a decision about {}:{}", decision.host(), decision.port(), e);
        }
    }

    @Override
    public void upstreamConnected(Protocol protocol, Decision decision, long connectNanos) {
        try {
            delegate.upstreamConnected(protocol, decision, connectNanos);
        } catch (RuntimeException e) {
            log.warn("egress listener failed on the connect to {}:{}", decision.host(), decision.port(), e);
        }
    }

    @Override
    public void rejected(Front front, Rejection why) {
        try {
            delegate.rejected(front, why);
        } catch (RuntimeException e) {
            log.warn("egress listener failed on a {} connection closed for {}", front.code(), why.code(), e);
        }
    }

    @Override
    public void closed(Protocol protocol, InetSocketAddress client, Decision decision, long bytesSent,
                       long bytesReceived, long durationMillis) {
        try {
            delegate.closed(protocol, client, decision, bytesSent, bytesReceived, durationMillis);
        } catch (RuntimeException e) {
            log.warn("egress listener failed on the close of {}:{}", decision.host(), decision.port(), e);
        }
    }
}
