package io.egressd.dns;

import io.egressd.policy.AllowlistLoader;
import io.egressd.policy.GlobalDeny;
import io.egressd.policy.Policy;
import io.egressd.policy.PolicyException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Allowlists as a security team writes them, loaded by the real loader. */
final class TestPolicies {

    /** Clients on 127.0.0.1 are server "app"; 127.0.0.2 is "other"; any other loopback source is unknown. */
    static final String APP = """
            server: app
            clients:
              sources: [127.0.0.1/32]
            allow:
              - host: api.example.com
              - host: "*.example.org"
              - host: db.example.com
                private: true
              - host: ten.example.com
              - cidr: 10.9.0.0/16
                ports: [5432]
            """;

    static final String OTHER = """
            server: other
            mode: report
            clients:
              sources: [127.0.0.2/32]
            allow:
              - host: only.example.net
            """;

    private TestPolicies() {
    }

    static Policy load(Path dir, String... allowlists) {
        try {
            for (String yaml : allowlists) {
                String server = yaml.lines().filter(l -> l.startsWith("server:")).findFirst().orElseThrow()
                        .substring("server:".length()).trim();
                Files.writeString(dir.resolve(server + ".yaml"), yaml);
            }
            return AllowlistLoader.load(dir, GlobalDeny.BUILT_IN);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (PolicyException e) {
            throw new IllegalStateException(e);
        }
    }
}
