package io.egressd.proxy;

import io.egressd.policy.ConnectionCount;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.egressd.policy.Host;
import io.egressd.policy.InvalidHostException;
import io.egressd.policy.Policy;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.socksx.v5.Socks5InitialRequestDecoder;
import io.netty.handler.codec.socksx.v5.Socks5ServerEncoder;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzzes the SOCKS5 front (Netty's SOCKS5 decoders, {@link SocksHandshake}, {@link SocksConnect})
 * in an {@link EmbeddedChannel} pipeline built as {@link SocksProxy} builds it, with the client's
 * bytes arriving in chunks of a fuzzed size. Properties, for any bytes:
 * <ul>
 *   <li>no exception escapes the pipeline;</li>
 *   <li>an upstream connection is attempted only when an independent reading of the bytes finds
 *       a well-formed greeting, the credentials (when password authentication is chosen) of the
 *       server, and a CONNECT to a destination that server's allowlist allows; and then only to
 *       that destination's vetted address and port.</li>
 * </ul>
 * A connect attempt is the {@link Route} being asked for the address to dial; the route records
 * it and refuses, so nothing ever leaves the test.
 *
 * <p>First input byte: bit 0 picks the sidecar listener (server "app" bound, no authentication
 * needed) or the shared one (identity by RFC 1929 credentials only); bits 1-7 the chunk size
 * (0 = all at once). The rest is what the client sends.
 */
class SocksFuzzTest {

    private static final InetAddress API = FuzzInputs.v4(93, 184, 215, 60);
    private static final AtomicLong RUNS = new AtomicLong();
    /** Inputs that got as far as a connect attempt: the seeds have some, so the property is not vacuous. */
    private static final AtomicLong DIALED = new AtomicLong();
    private static final List<InetSocketAddress> DIALS = new ArrayList<>();

    private static Path root;
    private static Policy policy;
    private static StreamConfig sidecar;
    private static StreamConfig shared;

    @BeforeAll
    static void policy() throws IOException {
        root = Files.createTempDirectory("socks-fuzz");
        policy = Allowlist.load(root, Allowlist.server("app").credentials("app", "secret")
                .host("api.example.com", 443).cidr("203.0.113.0/24", 443));
        AsyncNameResolver resolver = name -> name.equals("api.example.com")
                ? CompletableFuture.completedFuture(List.of(API))
                : CompletableFuture.failedFuture(new UnknownHostException(name));
        Route recording = vetted -> {
            DIALS.add(vetted);
            return null; // refuse: the fuzz test never dials
        };
        sidecar = config("app", resolver, recording);
        shared = config(null, resolver, recording);
    }

    private static StreamConfig config(String bound, AsyncNameResolver resolver, Route route) {
        Duration timeout = Duration.ofSeconds(5);
        ConnectionCount connections = new ConnectionCount(1_000_000);
        return new StreamConfig(() -> policy, bound, new StreamDecider(resolver, timeout, null, route),
                new GuardedListener(io.egressd.policy.EgressListener.NONE), connections, timeout, timeout,
                new ServerLimits(1_000_000, 0, System::nanoTime));
    }

    @FuzzTest(maxDuration = "2m")
    void handshake(byte[] input) {
        RUNS.incrementAndGet();
        if (input.length == 0) {
            return;
        }
        boolean bound = (input[0] & 1) != 0;
        int chunk = (input[0] & 0xff) >> 1;
        byte[] client = Arrays.copyOfRange(input, 1, input.length);
        StreamConfig config = bound ? sidecar : shared;

        EmbeddedChannel channel = new LoopbackEmbeddedChannel();
        Counted counted = new Counted(config, io.egressd.policy.Front.SOCKS5);
        channel.pipeline().addLast("count", counted);
        channel.pipeline().addLast(SocksHandshake.ENCODER, Socks5ServerEncoder.DEFAULT);
        channel.pipeline().addLast(SocksHandshake.DECODER, new Socks5InitialRequestDecoder());
        channel.pipeline().addLast("front", new SocksHandshake(config, counted));
        DIALS.clear();
        try {
            int step = chunk == 0 ? Math.max(1, client.length) : chunk;
            for (int i = 0; i < client.length && channel.isOpen(); i += step) {
                byte[] part = Arrays.copyOfRange(client, i, Math.min(client.length, i + step));
                channel.writeInbound(Unpooled.wrappedBuffer(part)); // throws what reached the pipeline's end
                channel.runPendingTasks();
            }
            channel.checkException();
        } finally {
            channel.finishAndReleaseAll();
        }

        if (!DIALS.isEmpty()) {
            DIALED.incrementAndGet();
            InetSocketAddress expected = legitimate(client, bound);
            assertThat(expected).as("bytes %s (sidecar %s) are a valid CONNECT to an allowed destination, "
                    + "since a connection to %s was attempted", FuzzInputs.hex(client), bound, DIALS).isNotNull();
            assertThat(DIALS).as("addresses dialed for %s", FuzzInputs.hex(client)).containsExactly(expected);
        }
    }

    /**
     * An independent reading of the client's bytes: the vetted address and port a correct proxy
     * may dial for them, or null when they do not reach an allowed CONNECT.
     */
    private static InetSocketAddress legitimate(byte[] b, boolean bound) {
        Reader in = new Reader(b);
        if (in.u8() != 5) {
            return null;
        }
        int n = in.u8();
        List<Integer> methods = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            methods.add(in.u8());
        }
        boolean noAuth = methods.contains(0);
        boolean password = methods.contains(2);
        if (n <= 0 || in.broken) {
            return null;
        }
        if (noAuth && (bound || !password)) {
            if (!bound) {
                return null; // no credentials and no source identity: nobody to decide for
            }
        } else if (password) {
            if (in.u8() != 1) {
                return null;
            }
            String user = in.ascii(in.u8());
            String pass = in.ascii(in.u8());
            if (in.broken || !policy.identify(bound ? "app" : null, user, pass, null).known()) {
                return null;
            }
        } else {
            return null;
        }
        if (in.u8() != 5 || in.u8() != 1) {
            return null;
        }
        in.u8(); // reserved
        int type = in.u8();
        String host;
        if (type == 1) {
            host = in.address(4).getHostAddress();
        } else if (type == 3) {
            host = in.ascii(in.u8());
        } else if (type == 4) {
            InetAddress v6 = in.address(16);
            host = v6 == null ? null : "[" + v6.getHostAddress() + "]";
        } else {
            return null;
        }
        int port = (in.u8() << 8) | in.u8();
        if (in.broken || host == null || port != 443) {
            return null;
        }
        try {
            Host parsed = Host.parse(host);
            if (parsed instanceof Host.Name name) {
                return name.value().equals("api.example.com") ? new InetSocketAddress(API, 443) : null;
            }
            byte[] ip = ((Host.Ip) parsed).address().getAddress();
            // 203.0.113.0/24, as itself or carried in an IPv6 address the policy unwraps.
            byte[] v4 = Arrays.copyOfRange(ip, ip.length - 4, ip.length);
            if ((v4[0] & 0xff) == 203 && v4[1] == 0 && (v4[2] & 0xff) == 113) {
                return new InetSocketAddress(InetAddress.getByAddress(v4), 443);
            }
            return null;
        } catch (InvalidHostException | UnknownHostException e) {
            return null;
        }
    }

    /** Reads bytes without ever throwing; past the end it reads zeros and marks itself broken. */
    private static final class Reader {
        private final byte[] b;
        private int i;
        boolean broken;

        Reader(byte[] b) {
            this.b = b;
        }

        int u8() {
            if (i >= b.length) {
                broken = true;
                return 0;
            }
            return b[i++] & 0xff;
        }

        String ascii(int length) {
            if (i + length > b.length) {
                broken = true;
                return "";
            }
            String s = new String(b, i, length, StandardCharsets.US_ASCII);
            i += length;
            return s;
        }

        InetAddress address(int length) {
            if (i + length > b.length) {
                broken = true;
                return null;
            }
            try {
                byte[] raw = Arrays.copyOfRange(b, i, i + length);
                // An Inet6Address even for ::ffff:a.b.c.d, which InetAddress.getByAddress makes IPv4.
                InetAddress a = length == 16 ? java.net.Inet6Address.getByAddress(null, raw, -1)
                        : InetAddress.getByAddress(raw);
                i += length;
                return a;
            } catch (UnknownHostException e) {
                throw new AssertionError(e);
            }
        }
    }

    @AfterAll
    static void ranTheCorpus() {
        FuzzInputs.delete(root);
        FuzzInputs.assertCorpusRan(SocksFuzzTest.class, "handshake", RUNS.get());
        assertThat(DIALED.get()).as("inputs that reached a connect attempt").isGreaterThanOrEqualTo(5);
    }
}
