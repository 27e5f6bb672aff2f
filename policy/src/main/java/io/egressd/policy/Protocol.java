package io.egressd.policy;

import java.util.Locale;

/** The front an attempt came through; audit events and metrics carry {@link #code()}. */
public enum Protocol {
    HTTP, CONNECT, SOCKS5, TCP, DNS;

    private final String code = name().toLowerCase(Locale.ROOT);

    public String code() {
        return code;
    }
}
