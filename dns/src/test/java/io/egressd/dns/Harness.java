package io.egressd.dns;

import io.egressd.policy.LearnedAddresses;
import io.egressd.policy.Policy;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.LongSupplier;
import java.util.function.UnaryOperator;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Record;
import org.xbill.DNS.SimpleResolver;

/** An upstream on loopback, the filter in front of it, and clients that talk to the filter. */
final class Harness implements AutoCloseable {

    final TestUpstream upstream;
    final RecordingListener listener;
    final DnsFilter filter;

    private Harness(TestUpstream upstream, RecordingListener listener, DnsFilter filter) {
        this.upstream = upstream;
        this.listener = listener;
        this.filter = filter;
    }

    static Harness start(Path allowlists) throws IOException {
        return start(allowlists, s -> s, System::nanoTime);
    }

    /** @param tweak changes the default test settings (upstream timeout 2 s, NXDOMAIN, 1000 cache entries) */
    static Harness start(Path allowlists, UnaryOperator<DnsSettings> tweak, LongSupplier clock) throws IOException {
        return start(allowlists, tweak, clock, null);
    }

    /** @param learned where the filter records the addresses it answered, or null */
    static Harness start(Path allowlists, UnaryOperator<DnsSettings> tweak, LongSupplier clock,
                         LearnedAddresses learned) throws IOException {
        return start(allowlists, tweak, clock, learned, DnsTransport.best());
    }

    /** @param transport the socket layer (tests of the NIO fallback ask for NIO) */
    static Harness start(Path allowlists, UnaryOperator<DnsSettings> tweak, LongSupplier clock,
                         LearnedAddresses learned, DnsTransport transport) throws IOException {
        Policy policy = TestPolicies.load(allowlists, TestPolicies.APP, TestPolicies.OTHER);
        TestUpstream upstream = TestUpstream.start();
        DnsSettings settings = tweak.apply(new DnsSettings(new InetSocketAddress(TestUpstream.LOOPBACK, 0), null,
                List.of(upstream.address()), Duration.ofSeconds(2), DenyRcode.NXDOMAIN, 1000));
        RecordingListener listener = new RecordingListener();
        try {
            return new Harness(upstream, listener, DnsFilter.start(settings, () -> policy, listener, learned, clock, transport));
        } catch (IOException | RuntimeException e) {
            upstream.close();
            throw e;
        }
    }

    int port() {
        return filter.udpAddress().getPort();
    }

    /** A dnsjava client from {@code source} (a 127/8 address, or null for 127.0.0.1), over UDP or TCP. */
    SimpleResolver client(boolean tcp, String source) {
        SimpleResolver resolver = new SimpleResolver(filter.udpAddress());
        resolver.setTCP(tcp);
        resolver.setTimeout(Duration.ofSeconds(5));
        if (source != null) {
            resolver.setLocalAddress(new InetSocketAddress(source, 0));
        }
        return resolver;
    }

    SimpleResolver client(boolean tcp) {
        return client(tcp, null);
    }

    Message query(String name, int type, boolean tcp) throws IOException {
        return client(tcp).send(newQuery(name, type));
    }

    static Message newQuery(String name, int type) {
        return Message.newQuery(Record.newRecord(TestUpstream.name(name), type, DClass.IN));
    }

    @Override
    public void close() {
        filter.close();
        upstream.close();
    }
}
