package io.egressd.dns;

import io.egressd.policy.Host;
import io.egressd.policy.InvalidHostException;
import java.net.InetSocketAddress;

/** Parses {@code address[:port]} for upstream resolvers; IP literals only, so nothing is ever looked up. */
final class Endpoints {

    private Endpoints() {
    }

    /**
     * {@code 10.0.0.2}, {@code 10.0.0.2:5353}, {@code [2001:db8::1]:53}, or a bare {@code 2001:db8::1}.
     *
     * @throws IllegalArgumentException saying what is wrong with {@code spec}
     */
    static InetSocketAddress parse(String spec, int defaultPort) {
        String text = spec == null ? "" : spec.trim();
        String host = text;
        int port = defaultPort;
        if (text.startsWith("[")) {
            int close = text.indexOf(']');
            if (close < 0) {
                throw bad(spec, "missing ']'");
            }
            host = text.substring(0, close + 1);
            String rest = text.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    throw bad(spec, "expected ':port' after ']'");
                }
                port = port(spec, rest.substring(1));
            }
        } else if (text.indexOf(':') != text.lastIndexOf(':')) {
            host = "[" + text + "]";
        } else if (text.indexOf(':') >= 0) {
            host = text.substring(0, text.indexOf(':'));
            port = port(spec, text.substring(text.indexOf(':') + 1));
        }
        try {
            if (Host.parse(host) instanceof Host.Ip ip) {
                return new InetSocketAddress(ip.address(), port);
            }
        } catch (InvalidHostException e) {
            throw bad(spec, e.getMessage());
        }
        throw bad(spec, "an upstream resolver must be an IP address");
    }

    private static int port(String spec, String text) {
        try {
            int port = Integer.parseInt(text);
            if (port >= 1 && port <= 65535) {
                return port;
            }
        } catch (NumberFormatException e) {
            // Reported below.
        }
        throw bad(spec, "port must be 1-65535");
    }

    private static IllegalArgumentException bad(String spec, String why) {
        return new IllegalArgumentException("bad upstream \"" + spec + "\": " + why
                + " (write \"system\", \"10.0.0.2:53\" or \"[2001:db8::1]:53\")");
    }
}
