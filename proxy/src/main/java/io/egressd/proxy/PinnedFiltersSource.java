package io.egressd.proxy;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import org.littleshoot.proxy.HttpFilters;
import org.littleshoot.proxy.HttpFiltersAdapter;
import org.littleshoot.proxy.HttpFiltersSourceAdapter;

/**
 * Gives LittleProxy the filters for the exchange the gate just decided. A request that
 * reaches LittleProxy without one (which the gate never lets happen) is refused there.
 */
final class PinnedFiltersSource extends HttpFiltersSourceAdapter {

    @Override
    public HttpFilters filterRequest(HttpRequest request, ChannelHandlerContext ctx) {
        Exchange exchange = ctx == null ? null : ctx.channel().attr(Exchange.NEXT).getAndSet(null);
        return exchange == null ? new Undecided(request) : new PinnedFilters(request, exchange);
    }

    /** Backstop for a request without a decision: answered without any upstream connection. */
    private static final class Undecided extends HttpFiltersAdapter {
        Undecided(HttpRequest request) {
            super(request);
        }

        @Override
        public HttpResponse clientToProxyRequest(HttpObject httpObject) {
            return httpObject instanceof HttpRequest
                    ? Responses.failure(HttpResponseStatus.FORBIDDEN, "request reached the proxy without a decision")
                    : null;
        }
    }
}
