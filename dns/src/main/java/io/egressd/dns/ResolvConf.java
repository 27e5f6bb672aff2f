package io.egressd.dns;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The {@code nameserver} lines of a resolv.conf, which is what upstream {@code system} means. */
final class ResolvConf {

    private ResolvConf() {
    }

    /** Every nameserver, in file order, on port 53. */
    static List<InetSocketAddress> nameservers(Path file) throws IOException {
        List<InetSocketAddress> out = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            String[] words = line.trim().split("\\s+");
            if (words.length >= 2 && words[0].equals("nameserver")) {
                out.add(Endpoints.parse(words[1], 53));
            }
        }
        if (out.isEmpty()) {
            throw new IOException("no nameserver lines in " + file);
        }
        return out;
    }
}
