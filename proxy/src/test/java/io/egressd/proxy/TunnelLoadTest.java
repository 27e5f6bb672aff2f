package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLongArray;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Many tunnels at once, and a lookup that never answers while other tunnels keep flowing. */
class TunnelLoadTest {

    static final String APP = RawHttp.basic("app", "app-token");
    static final int MIB = 1 << 20;
    /** Random bytes each tunnel sends a rotation of, so that no two tunnels carry the same stream. */
    static final byte[] DATA = new byte[MIB];

    static {
        new Random(42).nextBytes(DATA);
    }

    @TempDir
    Path dir;

    @Test
    void twoHundredParallelTunnelsEachCarryOneMibByteIdentical() throws Exception {
        int tunnels = 200;
        try (EchoServer echo = new EchoServer("127.0.0.1");
             ProxyFixture fx = new ProxyFixture(Allowlist.load(dir, Allowlist.server("app")
                     .credentials("app", "app-token").host("echo.test", echo.port())
                     .cidr("127.0.0.1/32", echo.port())),
                     new LoopbackResolver().answer("echo.test", "127.0.0.1"),
                     // Two cores run 400 client threads here too: allow for slow scheduling.
                     ProxyFixture.settings().withConnectTimeout(Duration.ofSeconds(20)))) {
            ExecutorService readers = Executors.newFixedThreadPool(tunnels);
            ExecutorService writers = Executors.newFixedThreadPool(tunnels);
            try {
                long start = System.nanoTime();
                List<Future<long[]>> results = new ArrayList<>();
                for (int i = 0; i < tunnels; i++) {
                    int seed = i;
                    results.add(readers.submit(() -> carry(fx, echo.port(), seed, writers)));
                }
                for (Future<long[]> result : results) {
                    long[] checksums = result.get(90, TimeUnit.SECONDS);
                    assertThat(checksums[1]).as("CRC-32 of the bytes back through the tunnel").isEqualTo(checksums[0]);
                }
                double seconds = (System.nanoTime() - start) / 1e9;
                System.out.printf("200 tunnels x 1 MiB echoed (400 MiB through the proxy) in %.2fs%n", seconds);
            } finally {
                readers.shutdownNow();
                writers.shutdownNow();
            }
            assertThat(echo.accepts()).isEqualTo(tunnels);
            assertThat(fx.resolver.calls("echo.test")).isEqualTo(tunnels);
            await().atMost(Duration.ofSeconds(10)).until(() -> fx.listener.closed.size() == tunnels);
            assertThat(fx.listener.closed).allSatisfy(c -> {
                assertThat(c.bytesSent()).isEqualTo(MIB);
                assertThat(c.bytesReceived()).isEqualTo(MIB);
            });
        }
    }

    /** Sends 1 MiB through a tunnel to the echo server; returns the CRC-32 of what was sent and received. */
    private static long[] carry(ProxyFixture fx, int port, int seed, ExecutorService writers) throws Exception {
        int offset = (seed * 4099) % MIB;
        try (Socket tunnel = RawHttp.tunnel(fx.address(), "echo.test:" + port, APP)) {
            tunnel.setSoTimeout(60_000);
            Future<Long> sent = writers.submit(() -> {
                CRC32 crc = new CRC32();
                OutputStream out = tunnel.getOutputStream();
                crc.update(DATA, offset, MIB - offset);
                out.write(DATA, offset, MIB - offset);
                crc.update(DATA, 0, offset);
                out.write(DATA, 0, offset);
                out.flush();
                return crc.getValue();
            });
            CRC32 crc = new CRC32();
            InputStream in = tunnel.getInputStream();
            byte[] buffer = new byte[32 * 1024];
            int total = 0;
            while (total < MIB) {
                int n = in.read(buffer, 0, Math.min(buffer.length, MIB - total));
                if (n < 0) {
                    break;
                }
                crc.update(buffer, 0, n);
                total += n;
            }
            assertThat(total).isEqualTo(MIB);
            return new long[] {sent.get(60, TimeUnit.SECONDS), crc.getValue()};
        }
    }

    @Test
    void aLookupThatNeverAnswersDoesNotStallOtherTunnels() throws Exception {
        int tunnels = 50;
        // One I/O thread each way: a blocked thread would stall every tunnel at once.
        ProxySettings settings = ProxyFixture.settings().withThreads(1, 1, 1).withConnectTimeout(Duration.ofSeconds(5));
        try (EchoServer echo = new EchoServer("127.0.0.1");
             ProxyFixture fx = new ProxyFixture(Allowlist.load(dir, Allowlist.server("app")
                     .credentials("app", "app-token").host("echo.test", echo.port()).host("hung.test", 443)
                     .cidr("127.0.0.1/32", echo.port())),
                     new LoopbackResolver().answer("echo.test", "127.0.0.1").hang("hung.test"), settings)) {
            AtomicLongArray echoed = new AtomicLongArray(tunnels);
            AtomicBoolean running = new AtomicBoolean(true);
            ExecutorService pumps = Executors.newFixedThreadPool(tunnels);
            List<Socket> sockets = new ArrayList<>();
            try {
                for (int i = 0; i < tunnels; i++) {
                    Socket tunnel = RawHttp.tunnel(fx.address(), "echo.test:" + echo.port(), APP);
                    sockets.add(tunnel);
                    int index = i;
                    pumps.submit(() -> pump(tunnel, index, echoed, running));
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> allPositive(echoed));

                CompletableFuture<RawHttp.Response> hung = CompletableFuture.supplyAsync(() -> {
                    try {
                        return RawHttp.send(fx.address(),
                                "CONNECT hung.test:443 HTTP/1.1\r\nProxy-Authorization: " + APP + "\r\n\r\n");
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                await().atMost(Duration.ofSeconds(5)).until(() -> fx.resolver.hungLookups() == 1);

                // While the lookup hangs, every tunnel moves bytes in every one of three half-seconds.
                for (int interval = 0; interval < 3; interval++) {
                    long[] before = snapshot(echoed);
                    Thread.sleep(500);
                    long[] after = snapshot(echoed);
                    for (int i = 0; i < tunnels; i++) {
                        assertThat(after[i]).as("tunnel %d in interval %d", i, interval).isGreaterThan(before[i]);
                    }
                    assertThat(hung).isNotDone();
                }
                // A new tunnel opens and carries bytes during the hang too.
                try (Socket late = RawHttp.tunnel(fx.address(), "echo.test:" + echo.port(), APP)) {
                    late.getOutputStream().write(42);
                    assertThat(late.getInputStream().read()).isEqualTo(42);
                }
                assertThat(hung).isNotDone();

                // The hung request itself ends with 502 at the connect timeout, not never: a name
                // that does not resolve in time is a name that does not resolve.
                RawHttp.Response answer = hung.get(10, TimeUnit.SECONDS);
                assertThat(answer.status()).isEqualTo(502);
                assertThat(answer.body()).contains("hung.test");
            } finally {
                running.set(false);
                pumps.shutdown();
                pumps.awaitTermination(5, TimeUnit.SECONDS);
                for (Socket s : sockets) {
                    s.close();
                }
            }
        }
    }

    private static void pump(Socket tunnel, int index, AtomicLongArray echoed, AtomicBoolean running) {
        byte[] out = new byte[4096];
        Arrays.fill(out, (byte) index);
        byte[] in = new byte[4096];
        try {
            OutputStream o = tunnel.getOutputStream();
            InputStream i = tunnel.getInputStream();
            while (running.get()) {
                o.write(out);
                o.flush();
                int got = 0;
                while (got < out.length) {
                    int n = i.read(in, 0, out.length - got);
                    if (n < 0) {
                        return;
                    }
                    got += n;
                }
                echoed.addAndGet(index, got);
                Thread.sleep(5);
            }
        } catch (Exception e) {
            // The test closes the sockets when it is done.
        }
    }

    private static boolean allPositive(AtomicLongArray counts) {
        for (int i = 0; i < counts.length(); i++) {
            if (counts.get(i) == 0) {
                return false;
            }
        }
        return true;
    }

    private static long[] snapshot(AtomicLongArray counts) {
        long[] copy = new long[counts.length()];
        for (int i = 0; i < copy.length; i++) {
            copy[i] = counts.get(i);
        }
        return copy;
    }
}
