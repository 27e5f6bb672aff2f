package io.egressd.policy;

import java.util.Locale;

/**
 * Why a front dropped a client connection, or a DNS query, before it had decided anything
 * about a destination. No server may be known at that point, so these are counted, not audited.
 */
public enum Rejection {
    /** Over the front's {@code max_connections}: closed at accept, unread. */
    MAX_CONNECTIONS,
    /** Over {@code max_connections_per_source}: closed at accept, unread. */
    MAX_CONNECTIONS_PER_SOURCE,
    /** No complete HTTP request head within {@code header_timeout}. */
    HEADER_TIMEOUT,
    /** A DNS TCP connection held part of a query longer than {@code tcp_frame_timeout}. */
    FRAME_TIMEOUT,
    /** Nothing moved either way for the idle timeout. */
    IDLE_TIMEOUT,
    /** A UDP DNS query over its source's {@code udp_queries_per_second_per_source}: dropped unanswered. */
    RATE_LIMITED;

    private final String code = name().toLowerCase(Locale.ROOT);

    public String code() {
        return code;
    }
}
