package io.egressd.proxy;

import io.egressd.policy.Host;
import io.egressd.policy.InvalidHostException;
import io.egressd.policy.Protocol;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.List;
import java.util.Locale;

/**
 * Where a proxy request wants to go: the authority of a CONNECT, or of an absolute-form
 * {@code http://} URI checked against the Host header.
 *
 * @param protocol  CONNECT or HTTP
 * @param host      the host as written, for the policy to canonicalize (never resolved here)
 * @param port      the destination port; 0 when it could not be read
 * @param path      for HTTP, the origin-form target ({@code /path?query}) to send upstream
 * @param problem   why the destination is {@code invalid_host}, or null when it is well formed
 */
record RequestTarget(Protocol protocol, String host, int port, String path, String problem) {

    /** A request not meant for a proxy (origin-form, or a scheme we do not proxy): answered 400. */
    static final class NotProxyRequest extends Exception {
        NotProxyRequest(String message) {
            super(message, null, false, false);
        }
    }

    private static final String HTTP_SCHEME = "http://";

    boolean valid() {
        return problem == null;
    }

    /**
     * Readies an allowed plain-HTTP request for LittleProxy: the URI's authority becomes the
     * pinned address, because LittleProxy keys reusable upstream connections by it (so a
     * kept-alive connection is reused only for the same vetted address), and the Host header
     * becomes the canonical name the policy checked, never the client's spelling of it.
     *
     * @param canonicalHost the decision's host: a lower-case ASCII name or an IP literal
     */
    void pin(HttpRequest request, String canonicalHost, InetAddress address) {
        request.headers().set(HttpHeaderNames.HOST, port == 80 ? canonicalHost : canonicalHost + ":" + port);
        String literal = address.getHostAddress();
        int zone = literal.indexOf('%');
        if (zone >= 0) {
            literal = literal.substring(0, zone);
        }
        String authority = address instanceof Inet6Address ? "[" + literal + "]" : literal;
        request.setUri(HTTP_SCHEME + authority + ":" + port + path);
    }

    static RequestTarget of(HttpRequest request) throws NotProxyRequest {
        if (HttpMethod.CONNECT.equals(request.method())) {
            return connect(request.uri());
        }
        return absolute(request);
    }

    private static RequestTarget connect(String authority) {
        Authority a = Authority.split(authority);
        if (a.problem != null) {
            return new RequestTarget(Protocol.CONNECT, a.host, a.port, null, a.problem);
        }
        if (a.port == 0) {
            return new RequestTarget(Protocol.CONNECT, a.host, 0, null, "CONNECT needs an explicit port");
        }
        return new RequestTarget(Protocol.CONNECT, a.host, a.port, null, null);
    }

    private static RequestTarget absolute(HttpRequest request) throws NotProxyRequest {
        String uri = request.uri();
        if (!uri.regionMatches(true, 0, HTTP_SCHEME, 0, HTTP_SCHEME.length())) {
            throw new NotProxyRequest(uri.startsWith("/") || uri.equals("*")
                    ? "this is a proxy: send requests in absolute form (http://host/path), or CONNECT for https"
                    : "only http:// URIs are proxied; use CONNECT for https");
        }
        String rest = uri.substring(HTTP_SCHEME.length());
        int end = indexOfAny(rest, "/?#");
        String authority = end < 0 ? rest : rest.substring(0, end);
        String path = end < 0 ? "/" : rest.substring(end);
        if (!path.startsWith("/")) {
            path = "/" + path;
        }
        int fragment = path.indexOf('#');
        if (fragment >= 0) {
            path = path.substring(0, fragment);
        }
        Authority a = Authority.split(authority);
        int port = a.port == 0 ? 80 : a.port;
        if (a.problem != null) {
            return new RequestTarget(Protocol.HTTP, a.host, a.port, path, a.problem);
        }
        String mismatch = hostHeaderMismatch(request, a.host, port);
        return new RequestTarget(Protocol.HTTP, a.host, port, path, mismatch);
    }

    /** Null when the Host header names the URI's host and port (or is absent), else why not. */
    private static String hostHeaderMismatch(HttpRequest request, String uriHost, int uriPort) {
        List<String> hosts = request.headers().getAll(HttpHeaderNames.HOST);
        if (hosts.isEmpty()) {
            return null;
        }
        if (hosts.size() > 1) {
            return "more than one Host header";
        }
        Authority header = Authority.split(hosts.get(0));
        if (header.problem != null) {
            return "Host header: " + header.problem;
        }
        int headerPort = header.port == 0 ? 80 : header.port;
        if (headerPort != uriPort) {
            return "Host header does not match the request URI";
        }
        try {
            if (!Host.parse(header.host).equals(Host.parse(uriHost))) {
                return "Host header does not match the request URI";
            }
        } catch (InvalidHostException e) {
            return "Host header does not match the request URI";
        }
        return null;
    }

    private static int indexOfAny(String s, String chars) {
        for (int i = 0; i < s.length(); i++) {
            if (chars.indexOf(s.charAt(i)) >= 0) {
                return i;
            }
        }
        return -1;
    }

    /** {@code host[:port]} or {@code [v6][:port]}; port 0 when absent. Strict: no empty or signed ports. */
    private record Authority(String host, int port, String problem) {

        static Authority split(String authority) {
            for (int i = 0; i < authority.length(); i++) {
                // URIs and Host are ASCII (RFC 3986, 9110). Raw bytes above 0x7f are a client bug or a
                // disguise: IDNA would map or drop them (a soft hyphen vanishes), so they are refused.
                if (authority.charAt(i) > 0x7f) {
                    return new Authority(authority, 0, "non-ASCII host; send the IDNA form (xn--...)");
                }
            }
            String host;
            String portText = null;
            if (authority.startsWith("[")) {
                int close = authority.indexOf(']');
                if (close < 0) {
                    return new Authority(authority, 0, "unterminated IPv6 literal");
                }
                host = authority.substring(0, close + 1);
                String after = authority.substring(close + 1);
                if (!after.isEmpty()) {
                    if (after.charAt(0) != ':') {
                        return new Authority(authority, 0, "junk after IPv6 literal");
                    }
                    portText = after.substring(1);
                }
            } else {
                int colon = authority.lastIndexOf(':');
                if (colon >= 0) {
                    host = authority.substring(0, colon);
                    portText = authority.substring(colon + 1);
                    if (host.indexOf(':') >= 0) {
                        return new Authority(authority, 0, "IPv6 literal must be written [address]");
                    }
                } else {
                    host = authority;
                }
            }
            if (host.isEmpty()) {
                return new Authority(authority, 0, "empty host");
            }
            if (portText == null) {
                return new Authority(host, 0, null);
            }
            int port = parsePort(portText);
            if (port < 1) {
                return new Authority(host, 0, "bad port '" + portText.toLowerCase(Locale.ROOT) + "'");
            }
            return new Authority(host, port, null);
        }

        private static int parsePort(String text) {
            if (text.isEmpty() || text.length() > 5) {
                return -1;
            }
            int value = 0;
            for (int i = 0; i < text.length(); i++) {
                char c = text.charAt(i);
                if (c < '0' || c > '9') {
                    return -1;
                }
                value = value * 10 + (c - '0');
            }
            return value <= 65535 ? value : -1;
        }
    }
}
