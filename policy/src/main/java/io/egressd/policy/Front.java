package io.egressd.policy;

import java.util.Locale;

/** A listener clients connect to; metrics of connections closed before any decision carry {@link #code()}. */
public enum Front {
    HTTP, SOCKS5, FORWARD, DNS_TCP;

    private final String code = name().toLowerCase(Locale.ROOT);

    public String code() {
        return code;
    }
}
