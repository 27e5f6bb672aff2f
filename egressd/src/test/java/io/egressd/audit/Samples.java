package io.egressd.audit;

import io.egressd.policy.Decision;
import io.egressd.policy.Mode;
import io.egressd.policy.Reason;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;

/** Decisions as the fronts would report them, without a network: addresses are built from bytes. */
public final class Samples {

    public static final String VERSION = "0123456789ab";

    private Samples() {
    }

    public static InetAddress ip(int a, int b, int c, int d) {
        try {
            return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    public static InetSocketAddress client(int port) {
        return new InetSocketAddress(ip(127, 0, 0, 1), port);
    }

    public static Decision denied(String server, String host, int port, Reason reason) {
        return new Decision(false, reason, server, server == null ? null : Mode.ENFORCE, false, host, port, null, null,
                VERSION);
    }

    public static Decision allowed(String server, String host, int port) {
        return new Decision(true, null, server, Mode.ENFORCE, false, host, port,
                "allowlists/" + server + ".yaml#allow[0]", ip(203, 0, 113, 7), VERSION);
    }

    public static Decision wouldDeny(String server, String host, int port) {
        return new Decision(true, Reason.HOST_NOT_ALLOWED, server, Mode.REPORT, true, host, port, null,
                ip(203, 0, 113, 9), VERSION);
    }

    /** A DNS decision: port 0, no address. */
    public static Decision dnsDenied(String server, String qname) {
        return new Decision(false, Reason.HOST_NOT_ALLOWED, server, Mode.ENFORCE, false, qname, 0, null, null,
                VERSION);
    }

    public static Decision dnsAllowed(String server, String qname) {
        return new Decision(true, null, server, Mode.ENFORCE, false, qname, 0,
                "allowlists/" + server + ".yaml#allow[0]", null, VERSION);
    }
}
