package io.egressd.proxy;

import io.egressd.policy.Decision;
import io.egressd.policy.Reason;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.nio.charset.StandardCharsets;
import java.util.EnumMap;
import java.util.Map;

/** The answers the proxy writes itself (design.md section 6), each with a body people can read. */
final class Responses {

    static final String DENIED_HEADER = "X-Egressd-Denied";
    static final String REALM = "egressd";

    private static final Map<Reason, String> HINTS = new EnumMap<>(Reason.class);

    static {
        HINTS.put(Reason.UNKNOWN_CLIENT, "this client is not any server egressd knows: send proxy credentials "
                + "or connect from a source address listed in an allowlist");
        HINTS.put(Reason.BAD_CREDENTIALS, "the proxy credentials are missing or wrong");
        HINTS.put(Reason.INVALID_HOST, "the destination is not a valid host name or IP address, or the request "
                + "names it inconsistently");
        HINTS.put(Reason.DENIED_BY_GLOBAL_RULE, "egressd's global deny rules refuse this destination for every "
                + "server");
        HINTS.put(Reason.HOST_NOT_ALLOWED, "no allow rule of this server matches the host");
        HINTS.put(Reason.PORT_NOT_ALLOWED, "the host is allowed, but not on this port");
        HINTS.put(Reason.ADDRESS_NOT_ALLOWED, "the host resolves only to addresses this server may not reach "
                + "(private, loopback or link-local without a rule that allows them)");
        HINTS.put(Reason.IP_LITERAL_NOT_ALLOWED, "IP address destinations need a cidr rule");
        HINTS.put(Reason.LIMIT_EXCEEDED, "egressd is at its connection limit");
        HINTS.put(Reason.AUDIT_UNAVAILABLE, "egressd cannot write its audit trail, so it lets nothing out until it can");
    }

    private Responses() {
    }

    /** 403 for a refused decision; 429 when the reason is {@code limit_exceeded}. */
    static FullHttpResponse denied(Decision decision, boolean close) {
        HttpResponseStatus status = decision.reason() == io.egressd.policy.Reason.LIMIT_EXCEEDED
                ? HttpResponseStatus.TOO_MANY_REQUESTS : HttpResponseStatus.FORBIDDEN;
        FullHttpResponse response = text(status, explain(decision), close);
        response.headers().set(DENIED_HEADER, decision.reason().code());
        return response;
    }

    /** 407 asking for Basic credentials; it carries the reason too. */
    static FullHttpResponse challenge(Decision decision, boolean close) {
        FullHttpResponse response = text(HttpResponseStatus.PROXY_AUTHENTICATION_REQUIRED, explain(decision), close);
        response.headers().set(HttpHeaderNames.PROXY_AUTHENTICATE, "Basic realm=\"" + REALM + "\"");
        response.headers().set(DENIED_HEADER, decision.reason().code());
        return response;
    }

    /** 400, 502 or 504 with a one-line explanation; always closes. */
    static FullHttpResponse failure(HttpResponseStatus status, String message) {
        return text(status, "egressd: " + printable(message) + "\n", true);
    }

    private static String explain(Decision decision) {
        Reason reason = decision.reason();
        String server = decision.server() == null ? "(unidentified client)" : decision.server();
        return "egressd refused the connection to " + printable(decision.host()) + ":" + decision.port() + "\n"
                + "server: " + printable(server) + "\n"
                + "reason: " + reason.code() + "\n"
                + "rule: " + (decision.rule() == null ? "-" : printable(decision.rule())) + "\n"
                + HINTS.getOrDefault(reason, "") + "\n";
    }

    private static FullHttpResponse text(HttpResponseStatus status, String body, boolean close) {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status,
                Unpooled.wrappedBuffer(bytes));
        response.headers()
                .set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
        if (close) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
        return response;
    }

    /** What a client wrote, made safe to echo in a text body: printable ASCII, bounded. */
    private static String printable(String s) {
        if (s == null) {
            return "-";
        }
        StringBuilder b = new StringBuilder(Math.min(s.length(), 300));
        for (int i = 0; i < s.length() && b.length() < 300; i++) {
            char c = s.charAt(i);
            b.append(c >= 0x20 && c < 0x7f ? c : '?');
        }
        return b.toString();
    }
}
