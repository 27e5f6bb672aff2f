package io.egressd.proxy;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Headers that describe the client's connection to the proxy and must not travel further
 * (RFC 9110 section 7.6.1), plus every {@code Proxy-*} header: credentials stop here.
 */
final class HopByHopHeaders {

    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "te", "trailer", "upgrade",
            "http2-settings");
    /** Never removed because a Connection header names them: that would change the message's framing. */
    private static final Set<String> FRAMING = Set.of("content-length", "transfer-encoding", "host");

    private HopByHopHeaders() {
    }

    /**
     * Before LittleProxy sees a request: drops the fields the Connection header names and the
     * proxy's own headers, and leaves Connection holding at most {@code close} or
     * {@code keep-alive}, which LittleProxy needs to manage the client connection.
     */
    static void sanitizeClientRequest(HttpHeaders headers) {
        boolean close = false;
        boolean keepAlive = false;
        for (String value : headers.getAll(HttpHeaderNames.CONNECTION)) {
            for (String token : value.split(",")) {
                String name = token.trim().toLowerCase(Locale.ROOT);
                if (name.equals("close")) {
                    close = true;
                } else if (name.equals("keep-alive")) {
                    keepAlive = true;
                } else if (!name.isEmpty() && !FRAMING.contains(name)) {
                    headers.remove(name);
                }
            }
        }
        headers.remove(HttpHeaderNames.CONNECTION);
        if (close) {
            headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        } else if (keepAlive) {
            headers.set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
        }
        removeProxyAndHopByHop(headers, false);
    }

    /** Just before a request goes upstream: nothing hop-by-hop and nothing {@code Proxy-*} is left. */
    static void stripForUpstream(HttpHeaders headers) {
        removeProxyAndHopByHop(headers, true);
    }

    private static void removeProxyAndHopByHop(HttpHeaders headers, boolean includingConnection) {
        List<String> doomed = new ArrayList<>();
        for (String name : headers.names()) {
            String lower = name.toLowerCase(Locale.ROOT);
            if (lower.startsWith("proxy-")
                    || (HOP_BY_HOP.contains(lower) && (includingConnection || !lower.equals("connection")))) {
                doomed.add(name);
            }
        }
        doomed.forEach(headers::remove);
    }
}
