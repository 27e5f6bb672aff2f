package io.egressd.policy;

import java.util.List;

/**
 * One entry of an allowlist's {@code allow}: a host pattern or a cidr, the ports it opens,
 * and whether a host may resolve to private addresses. {@code id} names it in audit events:
 * {@code allowlists/slack.yaml#allow[0]}.
 */
public record AllowRule(String id, HostPattern host, Cidr cidr, List<Integer> ports, boolean privateAddresses) {

    public static final List<Integer> DEFAULT_PORTS = List.of(443);

    public AllowRule {
        if ((host == null) == (cidr == null)) {
            throw new IllegalArgumentException("a rule has exactly one of host and cidr");
        }
        ports = List.copyOf(ports);
    }

    public boolean allowsPort(int port) {
        return ports.contains(port);
    }
}
