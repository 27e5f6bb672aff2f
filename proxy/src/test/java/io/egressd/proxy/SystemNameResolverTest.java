package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The system resolver asks for absolute names only; nothing here leaves the machine. */
class SystemNameResolverTest {

    @TempDir
    Path dir;

    final List<String> asked = new CopyOnWriteArrayList<>();

    /** Stands in for getaddrinfo: records the name and answers a loopback address. */
    InetAddress[] recordingLookup(String name) throws UnknownHostException {
        asked.add(name);
        return new InetAddress[] {InetAddress.getByAddress(name, new byte[] {127, 0, 0, 9})};
    }

    List<InetAddress> resolve(SystemNameResolver resolver, String name) throws Exception {
        return resolver.resolve(name).get(5, TimeUnit.SECONDS);
    }

    @Test
    void dnsIsAskedForTheAbsoluteNameSoResolvConfSearchDomainsNeverApply() throws Exception {
        SystemNameResolver resolver = new SystemNameResolver(Duration.ofSeconds(5), 1,
                dir.resolve("no-hosts-file"), this::recordingLookup);

        List<InetAddress> found = resolve(resolver, "api.github.com");

        assertThat(asked).containsExactly("api.github.com.");
        assertThat(found).extracting(InetAddress::getHostAddress).containsExactly("127.0.0.9");
    }

    @Test
    void aNameInTheHostsFileAnswersFromItWithoutADnsLookup() throws Exception {
        Path hosts = Files.writeString(dir.resolve("hosts"),
                "# comment\n127.0.0.7 internal.test Alias.Test  # trailing comment\n::1 internal.test\n");
        SystemNameResolver resolver = new SystemNameResolver(Duration.ofSeconds(5), 1, hosts,
                this::recordingLookup);

        List<InetAddress> internal = resolve(resolver, "internal.test");
        List<InetAddress> alias = resolve(resolver, "alias.test");

        assertThat(internal).extracting(InetAddress::getHostAddress)
                .containsExactly("127.0.0.7", "0:0:0:0:0:0:0:1");
        assertThat(alias).extracting(InetAddress::getHostAddress).containsExactly("127.0.0.7");
        assertThat(asked).isEmpty();
    }

    @Test
    void anEditedHostsFileIsReadAgainOnTheNextLookup() throws Exception {
        Path hosts = Files.writeString(dir.resolve("hosts"), "127.0.0.7 internal.test\n");
        SystemNameResolver resolver = new SystemNameResolver(Duration.ofSeconds(5), 1, hosts,
                this::recordingLookup);
        assertThat(resolve(resolver, "internal.test")).extracting(InetAddress::getHostAddress)
                .containsExactly("127.0.0.7");

        // Same length, and the same modification time as far as a coarse clock could tell.
        Files.writeString(hosts, "127.0.0.8 internal.test\n");
        Files.setLastModifiedTime(hosts, java.nio.file.attribute.FileTime.fromMillis(
                Files.getLastModifiedTime(hosts).toMillis() + 1000));
        assertThat(resolve(resolver, "internal.test")).extracting(InetAddress::getHostAddress)
                .containsExactly("127.0.0.8");

        Files.writeString(hosts, "127.0.0.8 other.test\n");
        assertThat(resolve(resolver, "internal.test")).extracting(InetAddress::getHostAddress)
                .containsExactly("127.0.0.9"); // gone from the file: asked of DNS
        assertThat(asked).containsExactly("internal.test.");
    }

    @Test
    void anAnswerIsReusedOnTheCallersThreadForAFewSecondsButAFailureIsNot() throws Exception {
        List<String> failing = new CopyOnWriteArrayList<>();
        SystemNameResolver resolver = new SystemNameResolver(Duration.ofSeconds(5), 1,
                dir.resolve("no-hosts-file"), name -> {
                    if (name.startsWith("missing")) {
                        failing.add(name);
                        throw new UnknownHostException(name);
                    }
                    return recordingLookup(name);
                }, Duration.ofMinutes(1));

        assertThat(resolve(resolver, "api.github.com")).extracting(InetAddress::getHostAddress)
                .containsExactly("127.0.0.9");
        var again = resolver.resolve("api.github.com");
        assertThat(again).isDone(); // answered without a lookup thread
        assertThat(again.get()).extracting(InetAddress::getHostAddress).containsExactly("127.0.0.9");
        assertThat(asked).containsExactly("api.github.com.");

        for (int i = 0; i < 2; i++) {
            assertThat(resolver.resolve("missing.example")).failsWithin(Duration.ofSeconds(5));
        }
        assertThat(failing).hasSize(2);

        SystemNameResolver noReuse = new SystemNameResolver(Duration.ofSeconds(5), 1,
                dir.resolve("no-hosts-file"), this::recordingLookup, Duration.ZERO);
        resolve(noReuse, "api.github.com");
        assertThat(asked).hasSize(2);
    }

    @Test
    void localhostStillResolvesOnThisMachine() throws Exception {
        // The real /etc/hosts and getaddrinfo: glibc's files backend would not find "localhost.".
        List<InetAddress> found = resolve(new SystemNameResolver(Duration.ofSeconds(5), 1), "localhost");

        assertThat(found).isNotEmpty().allMatch(InetAddress::isLoopbackAddress);
    }
}
