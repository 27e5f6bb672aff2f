package io.egressd.proxy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs {@code /usr/bin/curl} with proxy environment variables, as an MCP server's tools would. */
final class Curl {

    /**
     * @param exit    curl's exit code
     * @param status  the final response's status (0 when there was none)
     * @param connect the proxy's answer to CONNECT (0 when there was no CONNECT)
     * @param headers every header block curl saw, as written (CONNECT answer first)
     * @param body    the final response body
     */
    record Result(int exit, int status, int connect, String headers, byte[] bytes, String stderr) {
        String body() {
            return new String(bytes, StandardCharsets.UTF_8);
        }

        /** The value of {@code name} in the last header block that has it, or null. */
        String header(String name) {
            String found = null;
            for (String line : headers.split("\r\n")) {
                int colon = line.indexOf(':');
                if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) {
                    found = line.substring(colon + 1).trim();
                }
            }
            return found;
        }
    }

    private Curl() {
    }

    /**
     * @param proxyUrl e.g. {@code http://user:token@127.0.0.1:3128}, set as both http and https proxy
     */
    static Result run(Path scratch, String proxyUrl, String... args) throws IOException, InterruptedException {
        Path headers = Files.createTempFile(scratch, "curl", ".headers");
        Path body = Files.createTempFile(scratch, "curl", ".body");
        List<String> command = new ArrayList<>(List.of("/usr/bin/curl", "-sS", "-k", "--max-time", "20",
                "-D", headers.toString(), "-o", body.toString(), "-w", "%{http_code} %{http_connect}"));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command);
        Map<String, String> env = pb.environment();
        env.keySet().removeIf(k -> k.toLowerCase(Locale.ROOT).endsWith("_proxy"));
        // curl reads only the lower-case http_proxy (httpoxy); HTTPS_PROXY in either case.
        env.put("http_proxy", proxyUrl);
        env.put("HTTP_PROXY", proxyUrl);
        env.put("HTTPS_PROXY", proxyUrl);
        Path stderr = Files.createTempFile(scratch, "curl", ".stderr");
        pb.redirectError(stderr.toFile());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("curl did not finish");
        }
        String[] codes = out.split(" ");
        return new Result(p.exitValue(), Integer.parseInt(codes[0]), codes.length > 1 ? Integer.parseInt(codes[1]) : 0,
                Files.readString(headers, StandardCharsets.ISO_8859_1), Files.readAllBytes(body),
                Files.readString(stderr, StandardCharsets.UTF_8));
    }
}
