package io.egressd.dns;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Runs Debian's dig against the filter on 127.0.0.1 and reads its answer. */
final class Dig {

    private static final Pattern STATUS = Pattern.compile(";; ->>HEADER<<- opcode: (\\w+), status: (\\w+), id: (\\d+)");
    private static final Pattern FLAGS = Pattern.compile(";; flags:([a-z ]*);");

    /**
     * @param status  NOERROR, NXDOMAIN, REFUSED...
     * @param flags   header flags as dig prints them (qr, rd, ra, tc...)
     * @param answers the ANSWER SECTION lines
     * @param output  everything dig printed
     */
    record Result(String status, Set<String> flags, List<String> answers, String output) { }

    private Dig() {
    }

    static Result query(int port, String name, String type, String... options) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("dig", "@127.0.0.1", "-p", String.valueOf(port), name, type,
                "+tries=1", "+time=5"));
        command.addAll(Arrays.asList(options));
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!process.waitFor(20, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new AssertionError("dig did not finish: " + output);
        }
        Matcher status = STATUS.matcher(output);
        Matcher flags = FLAGS.matcher(output);
        if (!status.find() || !flags.find()) {
            throw new AssertionError("dig printed no answer header:\n" + output);
        }
        List<String> answers = new ArrayList<>();
        boolean inAnswer = false;
        for (String line : output.split("\n")) {
            if (line.startsWith(";; ANSWER SECTION:")) {
                inAnswer = true;
            } else if (inAnswer && (line.isBlank() || line.startsWith(";;"))) {
                inAnswer = false;
            } else if (inAnswer) {
                answers.add(line.trim());
            }
        }
        return new Result(status.group(2), Set.of(flags.group(1).trim().split("\\s+")), answers, output);
    }
}
