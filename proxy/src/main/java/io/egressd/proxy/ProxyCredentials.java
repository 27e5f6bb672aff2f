package io.egressd.proxy;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;

/**
 * The {@code Proxy-Authorization: Basic} credentials of one request.
 *
 * @param user     the user name, or null when the request carried no credentials
 * @param password the password (the token), or null
 * @param malformed credentials were sent but are not readable Basic credentials
 */
record ProxyCredentials(String user, String password, boolean malformed) {

    static final ProxyCredentials NONE = new ProxyCredentials(null, null, false);
    static final ProxyCredentials MALFORMED = new ProxyCredentials(null, null, true);

    static ProxyCredentials of(HttpHeaders headers) {
        List<String> values = headers.getAll(HttpHeaderNames.PROXY_AUTHORIZATION);
        if (values.isEmpty()) {
            return NONE;
        }
        if (values.size() > 1) {
            return MALFORMED;
        }
        String value = values.get(0).trim();
        int space = value.indexOf(' ');
        if (space < 0 || !value.substring(0, space).equalsIgnoreCase("Basic")) {
            return MALFORMED;
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(value.substring(space + 1).trim()),
                    StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return MALFORMED;
        }
        int colon = decoded.indexOf(':');
        if (colon < 0) {
            return MALFORMED;
        }
        return new ProxyCredentials(decoded.substring(0, colon), decoded.substring(colon + 1), false);
    }

    boolean present() {
        return user != null || malformed;
    }

    @Override
    public String toString() {
        // Never print the token.
        return "ProxyCredentials[user=" + user + ", malformed=" + malformed + "]";
    }
}
