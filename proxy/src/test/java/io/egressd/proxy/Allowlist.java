package io.egressd.proxy;

import io.egressd.policy.AllowlistLoader;
import io.egressd.policy.GlobalDeny;
import io.egressd.policy.Policy;
import io.egressd.policy.PolicyException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/** Writes an allowlist YAML file the way a security team would, for a test to load. */
final class Allowlist {

    private static final AtomicInteger DIRS = new AtomicInteger();

    private final String server;
    private String mode = "enforce";
    private String user;
    private String token;
    private final List<String> sources = new ArrayList<>();
    private final List<String> rules = new ArrayList<>();

    private Allowlist(String server) {
        this.server = server;
    }

    static Allowlist server(String name) {
        return new Allowlist(name);
    }

    Allowlist report() {
        mode = "report";
        return this;
    }

    Allowlist credentials(String proxyUser, String password) {
        user = proxyUser;
        token = password;
        return this;
    }

    Allowlist source(String cidr) {
        sources.add(cidr);
        return this;
    }

    Allowlist host(String host, int... ports) {
        rules.add("  - host: \"" + host + "\"\n    ports: " + list(ports) + "\n");
        return this;
    }

    Allowlist cidr(String cidr, int... ports) {
        rules.add("  - cidr: " + cidr + "\n    ports: " + list(ports) + "\n");
        return this;
    }

    String yaml() {
        StringBuilder b = new StringBuilder("server: " + server + "\nmode: " + mode + "\n");
        if (user != null || !sources.isEmpty()) {
            b.append("clients:\n");
            if (!sources.isEmpty()) {
                b.append("  sources: [").append(String.join(", ", sources)).append("]\n");
            }
            if (user != null) {
                b.append("  proxy_user: ").append(user).append('\n');
                b.append("  token_sha256: ").append(sha256(token)).append('\n');
            }
        }
        b.append("allow:\n");
        if (rules.isEmpty()) {
            b.append("  - host: nothing.invalid-example.org\n");
        }
        rules.forEach(b::append);
        return b.toString();
    }

    /** Writes the files into a fresh directory under {@code root} and loads them as the loader would. */
    static Policy load(Path root, Allowlist... lists) {
        try {
            Path dir = Files.createDirectory(root.resolve("allowlists-" + DIRS.incrementAndGet()));
            for (Allowlist list : lists) {
                Files.writeString(dir.resolve(list.server + ".yaml"), list.yaml(), StandardCharsets.UTF_8);
            }
            return AllowlistLoader.load(dir, GlobalDeny.BUILT_IN);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (PolicyException e) {
            throw new AssertionError("test allowlist does not load: " + e.getMessage(), e);
        }
    }

    private static String list(int... ports) {
        return IntStream.of(ports).mapToObj(Integer::toString).collect(Collectors.joining(", ", "[", "]"));
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(
                    MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
