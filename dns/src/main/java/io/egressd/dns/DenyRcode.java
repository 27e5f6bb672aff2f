package io.egressd.dns;

import java.util.Locale;
import org.xbill.DNS.Rcode;

/** What a query for a name outside the allowlist is answered with ({@code dns.deny_rcode}). */
public enum DenyRcode {
    NXDOMAIN(Rcode.NXDOMAIN),
    REFUSED(Rcode.REFUSED);

    private final int value;

    DenyRcode(int value) {
        this.value = value;
    }

    int value() {
        return value;
    }

    /**
     * Reads the config spelling, case-insensitively.
     *
     * @throws IllegalArgumentException naming the accepted values
     */
    public static DenyRcode parse(String text) {
        String upper = text == null ? "" : text.trim().toUpperCase(Locale.ROOT);
        for (DenyRcode rcode : values()) {
            if (rcode.name().equals(upper)) {
                return rcode;
            }
        }
        throw new IllegalArgumentException("deny_rcode must be NXDOMAIN or REFUSED, not \"" + text + "\"");
    }
}
