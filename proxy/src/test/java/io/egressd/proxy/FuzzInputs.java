package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** What the proxy module's fuzz tests share: their corpus check, temporary allowlists, and readable inputs. */
final class FuzzInputs {

    private FuzzInputs() {
    }

    /**
     * Fails unless {@code test}'s seed corpus {@code <Class>Inputs/<method>} has at least 10 files
     * and at least as many inputs ran: a fuzz test must not pass by doing nothing.
     */
    static void assertCorpusRan(Class<?> test, String method, long runs) {
        String dir = test.getSimpleName() + "Inputs/" + method;
        try (Stream<Path> files = Files.list(Path.of(test.getResource(dir).toURI()))) {
            long count = files.count();
            assertThat(count).as("seed files in %s", dir).isGreaterThanOrEqualTo(10);
            assertThat(runs).as("inputs run").isGreaterThanOrEqualTo(count);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }

    static void delete(Path root) {
        try (Stream<Path> files = Files.walk(root)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static InetAddress v4(int a, int b, int c, int d) {
        try {
            return Inet4Address.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
        } catch (UnknownHostException e) {
            throw new AssertionError(e);
        }
    }

    static String hex(byte[] bytes) {
        StringBuilder out = new StringBuilder();
        for (byte x : bytes) {
            out.append(String.format("%02x", x & 0xff));
        }
        return out.toString();
    }
}
