package io.egressd.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/** Real clients run as processes: curl and dig. */
final class Tools {

    record Result(int exit, String out) { }

    private Tools() {
    }

    static Result run(String... command) throws IOException, InterruptedException {
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        // curl honours NO_PROXY even with -x: the caller's proxy variables must not steer the test.
        builder.environment().keySet().removeIf(k -> k.toLowerCase(Locale.ROOT).endsWith("_proxy"));
        Process p = builder.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).as(String.join(" ", command)).isTrue();
        return new Result(p.exitValue(), out);
    }

    /** curl through the proxy, printing the response head and body ({@code -i}); extra options first. */
    static Result curl(String proxyUrl, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("curl", "-s", "-i", "--max-time", "20", "-x", proxyUrl));
        command.addAll(List.of(args));
        return run(command.toArray(String[]::new));
    }

    /** dig at egressd's DNS listener: {@code dig -b source @127.0.0.1 -p port name type}. */
    static Result dig(String source, int port, String name, String type) throws IOException, InterruptedException {
        return run("dig", "-b", source, "@127.0.0.1", "-p", Integer.toString(port), "+time=3", "+tries=1",
                name, type);
    }
}
