package io.egressd.proxy;

import io.egressd.policy.Protocol;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import java.net.InetSocketAddress;
import org.littleshoot.proxy.HttpFiltersAdapter;

/**
 * LittleProxy's per-request hooks for an allowed request: the address LittleProxy would
 * resolve is replaced by the vetted one, and upstream progress goes back to the gate.
 */
final class PinnedFilters extends HttpFiltersAdapter {

    private final Exchange exchange;

    PinnedFilters(HttpRequest request, Exchange exchange) {
        super(request);
        this.exchange = exchange;
    }

    @Override
    public InetSocketAddress proxyToServerResolutionStarted(String hostAndPort) {
        // Already resolved, so LittleProxy neither looks the name up again nor asks its HostResolver.
        return exchange.dial;
    }

    @Override
    public HttpResponse proxyToServerRequest(HttpObject httpObject) {
        if (httpObject instanceof HttpRequest request) {
            HopByHopHeaders.stripForUpstream(request.headers());
        }
        return null;
    }

    @Override
    public void proxyToServerConnectionStarted() {
        exchange.upstreamConnecting();
    }

    @Override
    public void proxyToServerConnectionSucceeded(ChannelHandlerContext serverCtx) {
        exchange.upstreamConnected();
        if (exchange.protocol == Protocol.HTTP) {
            UpstreamEnd.watch(serverCtx, exchange);
        }
    }

    @Override
    public void serverToProxyResponseTimedOut() {
        // LittleProxy answers 504 next, and would keep both connections open for a later answer.
        exchange.upstreamTimedOut();
    }
}
