package io.egressd.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every class of validation error, each asserted with its file, line, column and message
 * (the {@code file:line:column: message} that {@code egressd check} prints). Fixtures are in
 * src/test/resources/allowlists-invalid/&lt;case&gt;/; cases that need a file that is not
 * {@code .yaml} or not text are written to a temporary directory.
 */
class AllowlistValidationTest {

    private static final String TOKEN = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";

    private static Path fixture(String name) {
        return Fixtures.resource("allowlists-invalid/" + name);
    }

    private static List<ValidationError> check(String name) {
        return AllowlistLoader.check(List.of(fixture(name)));
    }

    /** An expected error in {@code allowlists-invalid/<name>/<file>}. */
    private static ValidationError error(String name, String file, int line, int column, String message) {
        return new ValidationError(fixture(name).resolve(file).toString(), line, column, message);
    }

    private static ValidationError error(String name, int line, int column, String message) {
        return error(name, "slack.yaml", line, column, message);
    }

    @Test
    void unknownTopLevelKeySuggestsTheKnownOne() {
        assertThat(check("unknown-key-top")).containsExactly(
                error("unknown-key-top", 2, 1, "unknown key \"alow\"; did you mean \"allow\"?"
                        + " Known keys: server, description, mode, clients, allow, forwards"));
    }

    @Test
    void unknownNestedKeysSuggestOrListTheKnownOnes() {
        String c = "unknown-key-nested";
        assertThat(check(c)).containsExactly(
                error(c, 3, 3, "clients: unknown key \"proxyuser\"; did you mean \"proxy_user\"?"
                        + " Known keys: sources, proxy_user, token_sha256"),
                error(c, 3, 3, "clients: proxy_user and token_sha256 go together;"
                        + " run egressd token for a password and its SHA-256"),
                error(c, 7, 5, "allow[0]: unknown key \"prots\"; did you mean \"ports\"?"
                        + " Known keys: host, cidr, ports, private"),
                error(c, 9, 5, "allow[1]: unknown key \"colour\"; known keys: host, cidr, ports, private"));
    }

    @Test
    void wrongTypesAtTheTop() {
        String c = "wrong-types";
        assertThat(check(c)).containsExactly(
                error(c, 1, 9, "server: expected a string, e.g. slack, found number \"42\""),
                error(c, 2, 14, "description: expected a string, e.g. \"Slack MCP server\", found a list"),
                error(c, 3, 7, "mode: expected a string, e.g. enforce, found boolean \"true\""),
                error(c, 4, 10, "clients: expected a mapping with keys sources, proxy_user, token_sha256,"
                        + " found a list"),
                error(c, 6, 3, "allow: expected a list, e.g. [{host: api.example.com}], found a mapping"));
    }

    @Test
    void wrongTypesInClientsAndRules() {
        String c = "wrong-types-rule";
        assertThat(check(c)).containsExactly(
                error(c, 3, 12, "clients.sources: expected a list, e.g. [172.30.0.11/32],"
                        + " found string \"172.30.0.11/32\""),
                error(c, 5, 5, "allow[0]: expected a mapping with keys host, cidr, ports, private,"
                        + " found string \"slack.com\""),
                error(c, 6, 11, "allow[1].host: expected a string, e.g. api.example.com, found number \"443\""),
                error(c, 7, 14, "allow[1].private: expected true or false, found string \"yes\""),
                error(c, 9, 12, "allow[2].ports: expected a list, e.g. [443], found number \"443\""),
                error(c, 11, 14, "allow[3].private: expected true or false, found boolean \"yes\""));
    }

    @Test
    void duplicateKeys() {
        String c = "duplicate-key";
        assertThat(check(c)).containsExactly(
                error(c, 5, 5, "allow[0]: duplicate key \"ports\"; write it once"),
                error(c, 6, 1, "duplicate key \"server\"; write it once"));
    }

    @Test
    void serverMustEqualTheFileName() {
        assertThat(check("server-mismatch")).containsExactly(error("server-mismatch", 2, 9,
                "server: \"slak\" must equal the file name without .yaml (\"slack\");"
                        + " rename the file to slak.yaml or write server: slack"));
    }

    @Test
    void serverMustBeAServerName() {
        assertThat(check("server-invalid-name")).containsExactly(error("server-invalid-name", "Slack.yaml", 1, 9,
                "server: \"Slack\" is not a server name; use lower-case letters, digits, '-' and '_', e.g. slack"));
    }

    @Test
    void serverIsRequired() {
        assertThat(check("missing-server")).containsExactly(error("missing-server", 1, 1,
                "server: missing; every allowlist starts with server: slack"));
    }

    @Test
    void oneServerInTwoDirectories() {
        Path a = fixture("duplicate-server/team-a");
        Path b = fixture("duplicate-server/team-b");
        assertThat(AllowlistLoader.check(List.of(a, b))).containsExactly(new ValidationError(
                b.resolve("slack.yaml").toString(), 2, 9, "server: \"slack\" is already defined in "
                        + a.resolve("slack.yaml") + ":1:9; each server has one allowlist"));
        // Each directory alone is fine.
        assertThat(AllowlistLoader.check(List.of(a))).isEmpty();
        assertThat(AllowlistLoader.check(List.of(b))).isEmpty();
    }

    @Test
    void theSameFileTwiceIsTheSameServerTwice() {
        Path a = fixture("duplicate-server/team-a");
        assertThat(AllowlistLoader.check(List.of(a, a.resolve("slack.yaml")))).singleElement()
                .satisfies(e -> assertThat(e.message()).startsWith("server: \"slack\" is already defined in "));
    }

    @Test
    void aSourceRangeClaimedByTwoServers() {
        String c = "overlapping-sources";
        assertThat(check(c)).containsExactly(error(c, 5, 7, "clients.sources[1]: 10.1.2.0/24 overlaps 10.1.0.0/16"
                + " of server github (" + fixture(c).resolve("github.yaml") + ":3:13);"
                + " a client address must identify exactly one server"));
    }

    @Test
    void oneProxyUserForTwoServers() {
        String c = "same-proxy-user";
        assertThat(check(c)).containsExactly(error(c, 3, 15, "clients.proxy_user: \"shared\" already identifies"
                + " server github (" + fixture(c).resolve("github.yaml") + ":3:15)"));
    }

    @Test
    void proxyUserAndTokenGoTogether() {
        String message = "clients: proxy_user and token_sha256 go together;"
                + " run egressd token for a password and its SHA-256";
        assertThat(check("proxy-user-without-token"))
                .containsExactly(error("proxy-user-without-token", 3, 3, message));
        assertThat(check("token-without-proxy-user"))
                .containsExactly(error("token-without-proxy-user", 3, 3, message));
    }

    @Test
    void proxyUserMustBeAUserName() {
        assertThat(check("bad-proxy-user")).containsExactly(error("bad-proxy-user", 3, 15,
                "clients.proxy_user: \"slack:admin\" may hold only letters, digits, '.', '_' and '-' (at most 64)"));
    }

    @Test
    void tokenMustBeLowerCaseSha256Hex() {
        String message = "clients.token_sha256: expected 64 lower-case hex digits"
                + " (the SHA-256 of the proxy password, as printed by egressd token)";
        assertThat(check("bad-token-hex")).containsExactly(error("bad-token-hex", 4, 17, message));
        assertThat(check("bad-token-short")).containsExactly(error("bad-token-short", 4, 17, message));
    }

    @Test
    void badCidrsAndHostBits() {
        String c = "bad-cidrs";
        assertThat(check(c)).containsExactly(
                error(c, 4, 7, "clients.sources[0]: \"172.30.0.0/33\" has prefix length 33;"
                        + " at most 32 for this address family"),
                error(c, 5, 7, "clients.sources[1]: \"not-a-range\" is not an IPv4 or IPv6 address"),
                error(c, 6, 7, "clients.sources[2]: \"172.30.0.11/16\" has host bits set; write 172.30.0.0/16"),
                error(c, 7, 7, "clients.sources[3]: \"10.0.0.0/\" has no valid prefix length after '/'"),
                error(c, 8, 7, "clients.sources[4]: \"10.0.0.0/08\" has no valid prefix length after '/'"),
                error(c, 9, 7, "clients.sources[5]: \"fd00::1/129\" has prefix length 129;"
                        + " at most 128 for this address family"),
                error(c, 10, 7, "clients.sources[6]: \"fd00::1/64\" has host bits set; write fd00::/64"),
                error(c, 12, 11, "allow[0].cidr: \"10.20.1.0/16\" has host bits set; write 10.20.0.0/16"),
                error(c, 14, 11, "allow[1].cidr: \"300.1.2.3\" is not an IPv4 or IPv6 address"),
                error(c, 15, 11, "allow[2].cidr: \"010.20.0.0\" is not an IPv4 or IPv6 address"));
    }

    @Test
    void portsOutsideTheRangeLeadingZerosEmptyAndDuplicates() {
        String c = "ports";
        String notAPort = " is not a port number; write a decimal number from 1 to 65535 without leading zeros";
        assertThat(check(c)).containsExactly(
                error(c, 4, 13, "allow[0].ports[0]: port 0" + notAPort),
                error(c, 6, 13, "allow[1].ports[0]: port 65536" + notAPort),
                error(c, 8, 13, "allow[2].ports[0]: port 0443" + notAPort),
                error(c, 10, 12, "allow[3].ports: empty list; leave ports out for [443] or list the ports"),
                error(c, 12, 24, "allow[4].ports[2]: port 443 is listed twice"),
                error(c, 14, 13, "allow[5].ports[0]: port -1" + notAPort),
                error(c, 16, 13, "allow[6].ports[0]: expected a port number from 1 to 65535, found string \"443\""),
                error(c, 18, 13, "allow[7].ports[0]: expected a port number from 1 to 65535, found number \"443.0\""),
                error(c, 20, 13, "allow[8].ports[0]: port 0x1bb" + notAPort));
    }

    @Test
    void wildcardsOverEverythingTldsPublicSuffixesAndMisplacedStars() {
        String c = "wildcards";
        assertThat(check(c)).containsExactly(
                error(c, 3, 11, "allow[0].host: \"*\" would allow every host; list the hosts this server needs"
                        + " (or use mode: report to find them)"),
                error(c, 4, 11, "allow[1].host: \"*.com\" is a wildcard over a whole top-level domain;"
                        + " name a registered domain, e.g. \"*.example.com\""),
                error(c, 5, 11, "allow[2].host: \"*.co.uk\" is a wildcard over the public suffix \"co.uk\";"
                        + " name a registered domain, e.g. \"*.example.co.uk\""),
                error(c, 6, 11, "allow[3].host: \"*.github.io\" is a wildcard over the public suffix"
                        + " \"github.io\"; name a registered domain, e.g. \"*.example.github.io\""),
                error(c, 7, 11, "allow[4].host: \"a.*.com\" has '*' where only a leading \"*.\" is allowed"),
                error(c, 8, 11, "allow[5].host: \"*foo.com\" has '*' where only a leading \"*.\" is allowed"),
                error(c, 9, 11, "allow[6].host: \"*.*.slack.com\" has '*' where only a leading \"*.\" is allowed"));
    }

    @Test
    void publicSuffixWildcardsAlone() {
        String c = "public-suffix-wildcard";
        assertThat(check(c)).containsExactly(
                error(c, 3, 11, "allow[0].host: \"*.co.uk\" is a wildcard over the public suffix \"co.uk\";"
                        + " name a registered domain, e.g. \"*.example.co.uk\""),
                error(c, 4, 11, "allow[1].host: \"*.com\" is a wildcard over a whole top-level domain;"
                        + " name a registered domain, e.g. \"*.example.com\""));
    }

    @Test
    void hostBitsInAllowCidrsAlone() {
        String c = "cidr-host-bits";
        assertThat(check(c)).containsExactly(
                error(c, 3, 11, "allow[0].cidr: \"10.20.1.0/16\" has host bits set; write 10.20.0.0/16"),
                error(c, 5, 11, "allow[1].cidr: \"2001:db8::1/32\" has host bits set; write 2001:db8::/32"));
    }

    @Test
    void ipLiteralsInHostSuggestACidrRule() {
        String c = "ip-literal-host";
        assertThat(check(c)).containsExactly(
                error(c, 3, 11, "allow[0].host: \"192.0.2.1\" is an IP literal; write it as a cidr rule:"
                        + " cidr: 192.0.2.1/32"),
                error(c, 4, 11, "allow[1].host: \"[2001:db8::1]\" is an IP literal; write it as a cidr rule:"
                        + " cidr: 2001:db8::1/128"),
                error(c, 5, 11, "allow[2].host: \"2001:db8::1\" is an IP literal; write it as a cidr rule:"
                        + " cidr: 2001:db8::1/128"),
                error(c, 6, 11, "allow[3].host: expected a string, e.g. api.example.com, found number \"127.1\""));
    }

    @Test
    void urlsAndPortsInHostSayWhereThePortGoes() {
        String c = "host-url-or-port";
        assertThat(check(c)).containsExactly(
                error(c, 3, 11, "allow[0].host: \"slack.com:443\" is not a valid host name: host contains ':',"
                        + " which no DNS name has; write host: slack.com and ports: [443]"),
                error(c, 4, 11, "allow[1].host: \"https://slack.com/api\" is not a valid host name: host contains"
                        + " ':', which no DNS name has; write only the host name (\"slack.com\" with its port"
                        + " under ports)"),
                error(c, 5, 11, "allow[2].host: \" slack.com\" is not a valid host name: host contains whitespace"
                        + " or a control character"));
    }

    @Test
    void emptyValues() {
        String c = "empty-values";
        assertThat(check(c)).containsExactly(
                error(c, 2, 14, "description: expected a string, e.g. \"Slack MCP server\", found an empty string"),
                error(c, 4, 4, "allow[0]: expected a mapping with keys host, cidr, ports, private, found nothing"),
                error(c, 5, 10, "allow[1].host: expected a string, e.g. api.example.com, found nothing"));
    }

    @Test
    void yamlMergeKeysAndAliasBombs() {
        assertThat(check("yaml-features")).containsExactly(
                error("yaml-features", 1, 1, "unknown key \"base\"; known keys: server, description, mode,"
                        + " clients, allow, forwards"),
                error("yaml-features", 4, 5, "allow[0]: merge keys (<<) are not supported; write the keys out"));
        assertThat(check("alias-bomb")).containsExactly(error("alias-bomb", 1, 1,
                "not valid YAML: Number of aliases for non-scalar nodes exceeds the specified max=20"));
    }

    @Test
    void nonAsciiHostsSuggestTheirXnForm() {
        String c = "non-ascii-host";
        assertThat(check(c)).containsExactly(
                error(c, 3, 11, "allow[0].host: \"sl\u0430ck.com\" is not ASCII; write its IDNA form,"
                        + " e.g. \"xn--slck-63d.com\""),
                error(c, 4, 11, "allow[1].host: \"*.b\u00fccher.example\" is not ASCII; write its IDNA form,"
                        + " e.g. \"*.xn--bcher-kva.example\""));
    }

    @Test
    void alwaysDeniedHosts() {
        String c = "always-denied-host";
        String denied = " is always denied (local or metadata names);"
                + " to reach a local service write a cidr rule for its address";
        assertThat(check(c)).containsExactly(
                error(c, 3, 11, "allow[0].host: \"localhost\"" + denied),
                error(c, 4, 11, "allow[1].host: \"*.localhost\" is a wildcard over a whole top-level domain;"
                        + " name a registered domain, e.g. \"*.example.localhost\""),
                error(c, 5, 11, "allow[2].host: \"metadata.google.internal\"" + denied),
                error(c, 6, 11, "allow[3].host: \"printer.local\"" + denied),
                error(c, 7, 11, "allow[4].host: \"1.0.0.127.in-addr.arpa\"" + denied),
                error(c, 8, 11, "allow[5].host: \"metadata\"" + denied));
    }

    @Test
    void privateIsForHostRulesOnly() {
        assertThat(check("private-on-cidr")).containsExactly(error("private-on-cidr", 5, 14,
                "allow[0].private: applies to host rules only; a cidr rule already names the addresses it allows"));
    }

    @Test
    void aRuleHasExactlyOneOfHostAndCidr() {
        String c = "rule-host-and-cidr";
        String message = ": a rule has exactly one of host (a name) or cidr (an address range)";
        assertThat(check(c)).containsExactly(
                error(c, 3, 5, "allow[0]" + message),
                error(c, 5, 5, "allow[1]" + message));
    }

    @Test
    void modeIsEnforceOrReport() {
        assertThat(check("mode-invalid")).containsExactly(error("mode-invalid", 2, 7,
                "mode: \"audit\" is not a mode; write enforce or report"));
        assertThat(check("mode-capitalized")).containsExactly(error("mode-capitalized", 2, 7,
                "mode: \"Enforce\" is not a mode; write enforce or report"));
    }

    @Test
    void emptyFiles() {
        assertThat(check("empty-file")).containsExactly(error("empty-file", 1, 1, "file is empty"));
        assertThat(check("comments-only")).containsExactly(error("comments-only", 1, 1, "file is empty"));
    }

    @Test
    void filesThatAreNotYaml() {
        assertThat(check("not-yaml-unclosed")).containsExactly(error("not-yaml-unclosed", 3, 1,
                "not valid YAML: expected ',' or ']', but got <stream end>"));
        assertThat(check("tab-indented")).containsExactly(error("tab-indented", 3, 1,
                "not valid YAML: found character '\\t(TAB)' that cannot start any token."
                        + " (Do not use \\t(TAB) for indentation)"));
    }

    @Test
    void aFileLargerThanOneMebibyteIsNotRead(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("slack.yaml");
        // A tab on line 3 stops the parser there, so the 1 MiB of padding after it costs nothing to parse.
        String head = "server: slack\nallow:\n\t- host: slack.com\n";
        // Exactly 1 MiB is read and parsed: the error is the file's own.
        Files.writeString(file, head + "#" + "x".repeat((1 << 20) - head.length() - 2) + "\n");
        assertThat(Files.size(file)).isEqualTo(1 << 20);
        assertThat(AllowlistLoader.check(List.of(file))).containsExactly(new ValidationError(file.toString(), 3, 1,
                "not valid YAML: found character '\\t(TAB)' that cannot start any token."
                        + " (Do not use \\t(TAB) for indentation)"));
        // One byte more: refused before it is read.
        Files.writeString(file, head + "#" + "x".repeat((1 << 20) - head.length() - 1) + "\n");
        assertThat(Files.size(file)).isEqualTo((1 << 20) + 1);
        assertThat(AllowlistLoader.check(List.of(file))).containsExactly(
                new ValidationError(file.toString(), 1, 1, "file is larger than 1 MiB"));
    }

    @Test
    void keysThatAreNotPlainNames(@TempDir Path dir) throws IOException {
        Path file = Files.writeString(dir.resolve("slack.yaml"), """
                server: slack
                ? [allow, forwards]
                : []
                allow:
                  - host: slack.com
                    443: [443]
                  - {host: api.slack.com, {ports: 1}: x}
                """);
        assertThat(AllowlistLoader.check(List.of(file))).containsExactly(
                new ValidationError(file.toString(), 2, 3, "keys must be plain names such as server, found a list"),
                new ValidationError(file.toString(), 6, 5,
                        "allow[0]: keys must be plain names such as host, found number \"443\""),
                new ValidationError(file.toString(), 7, 27,
                        "allow[1]: keys must be plain names such as host, found a mapping"));
    }

    @Test
    void topLevelList() {
        assertThat(check("top-level-list")).containsExactly(error("top-level-list", 1, 1,
                "expected a mapping with keys server, description, mode, clients, allow, forwards, found a list"));
    }

    @Test
    void binaryFiles(@TempDir Path dir) throws IOException {
        Path png = dir.resolve("slack.yaml");
        Files.write(png, new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13});
        Path nul = dir.resolve("github.yaml");
        Files.write(nul, "server: github\0\n".getBytes(StandardCharsets.UTF_8));
        assertThat(AllowlistLoader.check(List.of(dir))).containsExactly(
                new ValidationError(nul.toString(), 1, 1, "not valid YAML: file contains NUL bytes"),
                new ValidationError(png.toString(), 1, 1,
                        "not UTF-8 text; allowlists and config are YAML files in UTF-8"));
    }

    @Test
    void ymlFilesAreNamedAndNotSilentlySkipped(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("slack.yml"), "server: slack\n");
        Files.writeString(dir.resolve("README.md"), "not an allowlist\n");
        assertThat(AllowlistLoader.check(List.of(dir))).containsExactly(new ValidationError(
                dir.resolve("slack.yml").toString(), 1, 1, "only .yaml files are loaded; rename to slack.yaml"));
    }

    @Test
    void extensionsInAnotherCaseAreErrorsNotSilentlySkipped(@TempDir Path dir) throws IOException {
        // A file system that ignores case (macOS, Windows) would show these as allowlists;
        // the loader compares names exactly, so each is an error that says what to rename.
        Files.writeString(dir.resolve("github.Yml"), "server: github\n");
        Files.writeString(dir.resolve("postgres.yaml"), "server: postgres\n");
        Files.writeString(dir.resolve("slack.YAML"), "server: slack\n");
        Files.writeString(dir.resolve("slack.yaml.bak"), "server: slack\n");
        String caseSensitive = "only .yaml files are loaded, and the extension is case-sensitive; rename to ";
        assertThat(AllowlistLoader.check(List.of(dir))).containsExactly(
                new ValidationError(dir.resolve("github.Yml").toString(), 1, 1, caseSensitive + "github.yaml"),
                new ValidationError(dir.resolve("slack.YAML").toString(), 1, 1, caseSensitive + "slack.yaml"));
        // Named as an argument, the same.
        Path upper = dir.resolve("slack.YAML");
        assertThat(AllowlistLoader.check(List.of(upper))).containsExactly(
                new ValidationError(upper.toString(), 1, 1, caseSensitive + "slack.yaml"));
    }

    @Test
    void aFileArgumentMustBeAYamlFile(@TempDir Path dir) throws IOException {
        Path yml = Files.writeString(dir.resolve("slack.yml"), "server: slack\n");
        Path txt = Files.writeString(dir.resolve("slack.txt"), "server: slack\n");
        assertThat(AllowlistLoader.check(List.of(yml, txt))).containsExactly(
                new ValidationError(txt.toString(), 1, 1, "an allowlist file is named <server>.yaml"),
                new ValidationError(yml.toString(), 1, 1, "only .yaml files are loaded; rename to slack.yaml"));
    }

    @Test
    void aDirectoryThatDoesNotExist(@TempDir Path dir) {
        Path missing = dir.resolve("allowlists");
        assertThat(AllowlistLoader.check(List.of(missing))).containsExactly(new ValidationError(missing.toString(),
                1, 1, "no such file or directory; pass the allowlists directory or <server>.yaml files"));
    }

    @Test
    void hiddenEntriesAreSkippedAsConfigMapMountsNeed(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("slack.yaml"), "server: slack\nallow:\n  - host: slack.com\n");
        Files.writeString(dir.resolve(".slack.yaml.swp"), "\0\0\0");
        Files.createDirectory(dir.resolve("..2024_01_01_00_00_00.123"));
        Files.writeString(dir.resolve("..2024_01_01_00_00_00.123/broken.yaml"), "server: [");
        assertThat(AllowlistLoader.check(List.of(dir))).isEmpty();
    }

    @Test
    void everyErrorIsReportedAtOnceInFileOrderAndNoPolicyIsBuilt() {
        PolicyException e = org.junit.jupiter.api.Assertions.assertThrows(PolicyException.class,
                () -> AllowlistLoader.load(List.of(fixture("bad-cidrs"), fixture("ports")), GlobalDeny.BUILT_IN));
        assertThat(e.errors()).hasSize(19).isSorted();
        assertThat(e.getMessage().lines()).hasSize(19).allSatisfy(line ->
                assertThat(line).matches(".+/(bad-cidrs|ports)/slack\\.yaml:\\d+:\\d+: .+"));
        assertThat(e.getMessage().lines().findFirst()).contains(
                fixture("bad-cidrs").resolve("slack.yaml") + ":4:7: clients.sources[0]: \"172.30.0.0/33\""
                        + " has prefix length 33; at most 32 for this address family");
    }

    @Test
    void oneBrokenFileRejectsTheWholeSet(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("github.yaml"), "server: github\nallow:\n  - host: api.github.com\n");
        Files.writeString(dir.resolve("slack.yaml"), "server: slack\nallow:\n  - host: \"*.com\"\n");
        assertThatThrownBy(() -> AllowlistLoader.load(dir, GlobalDeny.BUILT_IN)).isInstanceOf(PolicyException.class)
                .hasMessage(dir.resolve("slack.yaml") + ":3:11: allow[0].host: \"*.com\" is a wildcard over a whole"
                        + " top-level domain; name a registered domain, e.g. \"*.example.com\"");
    }

    @Test
    void tokenInUpperCaseIsNotAcceptedEvenThoughItIsValidHex(@TempDir Path dir) throws IOException {
        // The fixture-free variant of bad-token-hex, with the same token in lower case as control.
        Files.writeString(dir.resolve("slack.yaml"), "server: slack\nclients:\n  proxy_user: slack\n"
                + "  token_sha256: " + TOKEN + "\n");
        assertThat(AllowlistLoader.check(List.of(dir))).isEmpty();
    }
}
