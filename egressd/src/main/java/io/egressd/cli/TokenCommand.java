package io.egressd.cli;

import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** A new proxy password for a server, and the SHA-256 that goes into its allowlist. */
@Command(name = "token", mixinStandardHelpOptions = true,
        description = {"Print a new random proxy password and its SHA-256.",
                "Give the password to the MCP server (http://USER:PASSWORD@egressd:3128);",
                "put only the SHA-256 in its allowlist as clients.token_sha256."})
final class TokenCommand implements Callable<Integer> {

    private static final SecureRandom RANDOM = new SecureRandom();

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws NoSuchAlgorithmException {
        byte[] secret = new byte[32];
        RANDOM.nextBytes(secret);
        // URL-safe without padding, so it drops into a proxy URL without escaping.
        String password = Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
        byte[] digest = MessageDigest.getInstance("SHA-256").digest(password.getBytes(StandardCharsets.UTF_8));
        PrintWriter out = spec.commandLine().getOut();
        out.println("password: " + password);
        out.println("token_sha256: " + HexFormat.of().formatHex(digest));
        out.flush();
        return 0;
    }
}
