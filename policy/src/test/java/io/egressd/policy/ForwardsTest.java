package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code forwards} key: what loads, and every error {@code egressd check} prints for it,
 * with its file, line and column. A forward never widens an allowlist: its target must be
 * allowed by the same file's {@code allow} rules.
 */
class ForwardsTest {

    @TempDir
    Path dir;

    private Path write(String server, String yaml) throws IOException {
        return Files.writeString(dir.resolve(server + ".yaml"), yaml);
    }

    private List<ValidationError> check() {
        return AllowlistLoader.check(List.of(dir));
    }

    private ValidationError error(String server, int line, int column, String message) {
        return new ValidationError(dir.resolve(server + ".yaml").toString(), line, column, message);
    }

    @Test
    void aForwardToAnAllowedTargetLoadsWithItsServerAndId() throws Exception {
        write("postgres", """
                server: postgres
                allow:
                  - host: DB.Internal.Example.com.
                    ports: [5432]
                    private: true
                  - cidr: 10.20.0.0/16
                    ports: [6432]
                forwards:
                  - {listen: 127.0.0.1:15432, to: DB.Internal.Example.com.:5432}
                  - {listen: "[::1]:16432", to: 10.20.1.5:6432}
                """);
        Policy policy = AllowlistLoader.load(dir, GlobalDeny.BUILT_IN);
        String base = dir.getFileName() + "/postgres.yaml#forwards[";
        assertThat(policy.server("postgres").forwards()).containsExactly(
                new Forward(base + "0]", "postgres", new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 15432),
                        new Destination("db.internal.example.com", 5432)),
                new Forward(base + "1]", "postgres", new InetSocketAddress(InetAddress.getByName("::1"), 16432),
                        new Destination("10.20.1.5", 6432)));
        assertThat(policy.forwards()).hasSize(2);
    }

    @Test
    void aTargetNoHostRuleMatchesIsALoadError() throws Exception {
        write("postgres", """
                server: postgres
                allow:
                  - host: db.internal.example.com
                    ports: [5432]
                forwards:
                  - listen: 127.0.0.1:15432
                    to: other.example.com:5432
                """);
        assertThat(check()).containsExactly(error("postgres", 7, 9, "forwards[0].to: other.example.com:5432 is not"
                + " allowed by this server's allow rules; add a host rule for other.example.com with ports: [5432]"));
    }

    @Test
    void aTargetOnAPortTheRuleDoesNotListIsALoadError() throws Exception {
        write("postgres", """
                server: postgres
                allow:
                  - host: api.example.com
                  - host: "*.example.com"
                    ports: [5432]
                forwards:
                  - {listen: 127.0.0.1:15432, to: api.example.com:6432}
                """);
        assertThat(check()).containsExactly(error("postgres", 7, 35, "forwards[0].to: api.example.com:6432 is not"
                + " allowed by this server's allow rules; allow[0] matches api.example.com but not port 6432;"
                + " add 6432 to its ports"));
    }

    @Test
    void anIpTargetNeedsACidrRuleWithItsPort() throws Exception {
        write("postgres", """
                server: postgres
                allow:
                  - cidr: 10.20.0.0/16
                    ports: [5432]
                forwards:
                  - {listen: 127.0.0.1:15432, to: 10.20.0.9:6432}
                  - {listen: 127.0.0.1:15433, to: "[2001:db8::5]:5432"}
                """);
        assertThat(check()).containsExactly(
                error("postgres", 6, 35, "forwards[0].to: 10.20.0.9:6432 is not allowed by this server's allow"
                        + " rules; add a cidr rule containing 10.20.0.9 with ports: [6432]"),
                error("postgres", 7, 35, "forwards[1].to: [2001:db8::5]:5432 is not allowed by this server's allow"
                        + " rules; add a cidr rule containing [2001:db8::5] with ports: [5432]"));
    }

    @Test
    void alwaysDeniedTargetsAreNamedAsSuch() throws Exception {
        write("dev", """
                server: dev
                allow:
                  - cidr: 127.0.0.1/32
                    ports: [5432]
                forwards:
                  - {listen: 127.0.0.1:15432, to: localhost:5432}
                """);
        assertThat(check()).containsExactly(error("dev", 6, 35, "forwards[0].to: \"localhost\" is always denied"
                + " (local or metadata names); forward to the service's address and allow it with a cidr rule"));
    }

    @Test
    void listenAndToAreStrict() throws Exception {
        write("postgres", """
                server: postgres
                allow: [{host: db.example.com, ports: [5432]}]
                forwards:
                  - {listen: db.example.com:15432, to: db.example.com:5432}
                  - {listen: 127.0.0.1, to: db.example.com:5432}
                  - {listen: "127.0.0.1:0", to: db.example.com:5432}
                  - {listen: "::1:15432", to: db.example.com:5432}
                  - {listen: 127.0.0.1:15436, to: db.example.com}
                  - {listen: 127.0.0.1:15437, to: "db.example.com:05432"}
                  - {listen: 127.0.0.1:15438, to: "user@db.example.com:5432"}
                  - {listen: 127.0.0.1:15439}
                  - {listen: 127.0.0.1:15440, to: db.example.com:5432, via: socks}
                  - 127.0.0.1:15441
                forwards_typo: []
                """);
        String listenHint = " is not an IP address and port such as 127.0.0.1:15432 or [::1]:15432 (a listener"
                + " never resolves a name; port 1-65535)";
        assertThat(check()).containsExactly(
                error("postgres", 4, 14, "forwards[0].listen: \"db.example.com:15432\"" + listenHint),
                error("postgres", 5, 14, "forwards[1].listen: \"127.0.0.1\"" + listenHint),
                error("postgres", 6, 14, "forwards[2].listen: \"127.0.0.1:0\"" + listenHint),
                error("postgres", 7, 14, "forwards[3].listen: \"::1:15432\"" + listenHint),
                error("postgres", 8, 35, "forwards[4].to: \"db.example.com\": no port; write host:port,"
                        + " e.g. example.com:443"),
                error("postgres", 9, 35, "forwards[5].to: \"db.example.com:05432\": port \"05432\" has a leading"
                        + " zero; write it in decimal without one"),
                error("postgres", 10, 35, "forwards[6].to: \"user@db.example.com:5432\": host contains userinfo"
                        + " ('@')"),
                error("postgres", 11, 5, "forwards[7]: a forward has both listen (where egressd listens, e.g."
                        + " 127.0.0.1:15432) and to (the destination, e.g. db.internal.example.com:5432)"),
                error("postgres", 12, 56, "forwards[8]: unknown key \"via\"; known keys: listen, to"),
                error("postgres", 13, 5, "forwards[9]: expected a mapping with keys listen, to, found string"
                        + " \"127.0.0.1:15441\""),
                error("postgres", 14, 1, "unknown key \"forwards_typo\"; known keys: server, description, mode,"
                        + " clients, allow, forwards"));
    }

    @Test
    void aListenAddressBelongsToOneForwardInAFile() throws Exception {
        write("postgres", """
                server: postgres
                allow: [{host: db.example.com, ports: [5432, 5433]}]
                forwards:
                  - {listen: 127.0.0.1:15432, to: db.example.com:5432}
                  - {listen: 127.0.0.1:15432, to: db.example.com:5433}
                  - {listen: 0.0.0.0:15432, to: db.example.com:5433}
                """);
        String first = dir.getFileName() + "/postgres.yaml#forwards[0]";
        String position = dir.resolve("postgres.yaml") + ":4:14";
        assertThat(check()).containsExactly(
                error("postgres", 5, 14, "forwards[1].listen: 127.0.0.1:15432 is already the listener of " + first
                        + " (" + position + "); each forward needs its own port"),
                error("postgres", 6, 14, "forwards[2].listen: 0.0.0.0:15432 is already the listener of " + first
                        + " (" + position + "); each forward needs its own port"),
                error("postgres", 6, 14, "forwards[2].listen: 0.0.0.0:15432 is already the listener of "
                        + dir.getFileName() + "/postgres.yaml#forwards[1] (" + dir.resolve("postgres.yaml")
                        + ":5:14); each forward needs its own port"));
    }

    @Test
    void aListenAddressBelongsToOneServer() throws Exception {
        write("a", """
                server: a
                allow: [{host: db.example.com, ports: [5432]}]
                forwards: [{listen: "127.0.0.1:15432", to: db.example.com:5432}]
                """);
        write("b", """
                server: b
                allow: [{host: db.example.com, ports: [5432]}]
                forwards:
                  - {listen: "127.0.0.1:15433", to: db.example.com:5432}
                  - {listen: "127.0.0.1:15432", to: db.example.com:5432}
                """);
        assertThat(check()).containsExactly(error("b", 5, 14, "forwards[1].listen: 127.0.0.1:15432 is already the"
                + " listener of " + dir.getFileName() + "/a.yaml#forwards[0] of server a (" + dir.resolve("a.yaml")
                + ":3:21); a listener belongs to exactly one server"));
    }

    @Test
    void differentAddressesOnOnePortDoNotClash() throws Exception {
        write("a", """
                server: a
                allow: [{host: db.example.com, ports: [5432]}]
                forwards: [{listen: "127.0.0.1:15432", to: db.example.com:5432}]
                """);
        write("b", """
                server: b
                allow: [{host: db.example.com, ports: [5432]}]
                forwards: [{listen: "127.0.0.2:15432", to: db.example.com:5432}]
                """);
        assertThat(check()).isEmpty();
    }
}
