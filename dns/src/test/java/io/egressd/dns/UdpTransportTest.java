package io.egressd.dns;

import static io.egressd.dns.TestUpstream.a;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.egressd.policy.EgressListener;
import io.egressd.policy.Policy;
import io.netty.channel.epoll.Epoll;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.DatagramChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/** The UDP socket layer: native epoll with batched reads and writes, the NIO fallback, and an exclusive port. */
class UdpTransportTest {

    @Test
    void theShippedBuildLoadsTheNativeEpollTransportOnLinuxX86() {
        // The linux-x86_64 library is a dependency of the dns module: on this platform epoll must load.
        if (System.getProperty("os.name").equals("Linux") && System.getProperty("os.arch").equals("amd64")) {
            assertThat(Epoll.unavailabilityCause()).isNull();
            assertThat(DnsTransport.best()).isEqualTo(DnsTransport.EPOLL);
        } else {
            assertThat(DnsTransport.best()).isEqualTo(DnsTransport.NIO);
        }
    }

    @ParameterizedTest
    @EnumSource(DnsTransport.class)
    void aBurstOfQueriesFromManyClientsIsAllAnsweredOnEitherTransport(DnsTransport transport, @TempDir Path dir)
            throws Exception {
        if (transport == DnsTransport.EPOLL && !Epoll.isAvailable()) {
            transport = DnsTransport.NIO; // nothing else to run here
        }
        try (Harness dns = Harness.start(dir, s -> s, System::nanoTime, null, transport)) {
            for (int i = 0; i < 10; i++) {
                dns.upstream.answer("b" + i + ".example.org", Type.A, a("b" + i + ".example.org", 300, "93.184.217." + i));
            }
            // Sent together, so that replies are made inside one read batch and flushed at its end;
            // the allowed names are forwarded first (flushed on their own), then cached, and the
            // denied names are answered locally.
            for (int round = 0; round < 2; round++) {
                List<CompletableFuture<Message>> answers = new ArrayList<>();
                List<String> names = new ArrayList<>();
                for (int i = 0; i < 60; i++) {
                    String name = i % 2 == 0 ? "b" + (i / 2 % 10) + ".example.org" : "x" + i + ".denied.example";
                    names.add(name);
                    SimpleResolver client = dns.client(false);
                    answers.add(client.sendAsync(Harness.newQuery(name, Type.A)).toCompletableFuture());
                }
                for (int i = 0; i < answers.size(); i++) {
                    Message m = answers.get(i).get();
                    if (names.get(i).endsWith(".denied.example")) {
                        assertThat(m.getRcode()).as(names.get(i)).isEqualTo(Rcode.NXDOMAIN);
                    } else {
                        int n = i / 2 % 10;
                        assertThat(m.getRcode()).as(names.get(i)).isEqualTo(Rcode.NOERROR);
                        assertThat(m.getSection(Section.ANSWER)).singleElement().satisfies(r -> assertThat(
                                ((ARecord) r).getAddress().getHostAddress()).isEqualTo("93.184.217." + n));
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(DnsTransport.class)
    void refusesAPortHeldWithSoReusePortBySomeoneElse(DnsTransport transport) throws Exception {
        // Same user, SO_REUSEPORT: the kernel would let the filter's SO_REUSEPORT sockets share the
        // port, and send part of the queries to this socket, unfiltered.
        try (DatagramChannel other = DatagramChannel.open()) {
            other.setOption(StandardSocketOptions.SO_REUSEPORT, true);
            other.bind(new InetSocketAddress(TestUpstream.LOOPBACK, 0));
            InetSocketAddress taken = (InetSocketAddress) other.getLocalAddress();
            assertThatThrownBy(() -> DnsFilter.start(DnsSettings.of(taken, List.of(new InetSocketAddress(
                    TestUpstream.LOOPBACK, 9))), Policy::empty, EgressListener.NONE, null, System::nanoTime,
                    transport).close())
                    .isInstanceOf(BindException.class)
                    .hasMessageContaining("already in use").hasMessageContaining(":" + taken.getPort());
        }
    }

    @Test
    void refusesAPortHeldByAPlainSocket() throws Exception {
        try (DatagramChannel other = DatagramChannel.open()) {
            other.bind(new InetSocketAddress(TestUpstream.LOOPBACK, 0));
            InetSocketAddress taken = (InetSocketAddress) other.getLocalAddress();
            assertThatThrownBy(() -> DnsFilter.start(DnsSettings.of(taken, List.of(new InetSocketAddress(
                    TestUpstream.LOOPBACK, 9))), Policy::empty, EgressListener.NONE).close())
                    .isInstanceOf(BindException.class);
        }
    }
}
