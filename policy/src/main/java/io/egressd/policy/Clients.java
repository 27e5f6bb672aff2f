package io.egressd.policy;

import java.util.List;

/**
 * How egressd recognizes a server's clients in a shared gateway: source ranges, or proxy
 * credentials whose password hashes to {@code tokenSha256}.
 */
public record Clients(List<Cidr> sources, String proxyUser, byte[] tokenSha256) {

    public static final Clients NONE = new Clients(List.of(), null, null);

    public Clients {
        sources = List.copyOf(sources);
        tokenSha256 = tokenSha256 == null ? null : tokenSha256.clone();
    }

    @Override
    public byte[] tokenSha256() {
        return tokenSha256 == null ? null : tokenSha256.clone();
    }
}
