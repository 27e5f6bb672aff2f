package io.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.egressd.config.Config;
import io.egressd.policy.AllowlistLoader;
import io.egressd.policy.GlobalDeny;
import io.egressd.policy.Policy;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** serve's wiring of listen.socks and the allowlists' forwards: bound, announced, and working, on loopback. */
class DaemonStreamsTest {

    @TempDir
    Path dir;
    HttpServer upstream;
    int port;

    @BeforeEach
    void startUpstream() throws IOException {
        upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        upstream.createContext("/", exchange -> {
            byte[] body = "hello from upstream\n".getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        upstream.start();
        port = upstream.getAddress().getPort();
    }

    @AfterEach
    void stop() {
        upstream.stop(0);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private Policy policy(int forwardA, int forwardB) throws Exception {
        Path lists = Files.createDirectories(dir.resolve("allowlists"));
        for (String server : new String[] {"a", "b"}) {
            Files.writeString(lists.resolve(server + ".yaml"), """
                    server: %s
                    clients: {sources: [%s]}
                    allow:
                      - cidr: 127.0.0.1/32
                        ports: [%d]
                    forwards:
                      - {listen: "127.0.0.1:%d", to: "127.0.0.1:%d"}
                    """.formatted(server, server.equals("a") ? "127.0.0.1/32" : "127.0.0.4/32", port,
                    server.equals("a") ? forwardA : forwardB, port));
        }
        return AllowlistLoader.load(lists, GlobalDeny.BUILT_IN);
    }

    private static Config config(Path allowlists, String server) {
        Config d = Config.defaults();
        return new Config(null, allowlists, server,
                new Config.Listen(null, new InetSocketAddress("127.0.0.1", 0), null, null),
                d.dns(), d.audit(), d.deny(), d.limits());
    }

    private static String get(InetSocketAddress forward) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(forward, 5000);
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            out.write("GET / HTTP/1.0\r\nHost: db\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            InputStream in = s.getInputStream();
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    @Test
    void socksAndEveryForwardAreBoundAndAnnounced() throws Exception {
        int a = freePort();
        int b = freePort();
        policy(a, b);
        try (Daemon daemon = Daemon.start(config(dir.resolve("allowlists"), null))) {
            InetSocketAddress socks = daemon.socksAddress();
            assertThat(daemon.readyLine()).startsWith("egressd: listening: socks on 127.0.0.1:" + socks.getPort()
                    + ", forwards on 127.0.0.1:" + a + " 127.0.0.1:" + b + "; policy ");
            assertThat(daemon.forwardAddresses()).containsExactly(new InetSocketAddress("127.0.0.1", a),
                    new InetSocketAddress("127.0.0.1", b));
            assertThat(get(daemon.forwardAddresses().get(0))).contains("hello from upstream");

            Process curl = new ProcessBuilder("/usr/bin/curl", "-sS", "--max-time", "20", "--socks5-hostname",
                    "127.0.0.1:" + socks.getPort(), "http://127.0.0.1:" + port + "/").redirectErrorStream(true)
                    .start();
            String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(curl.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(curl.exitValue()).as(out).isZero();
            assertThat(out).isEqualTo("hello from upstream\n");
        }
    }

    @Test
    void aSidecarListensOnlyForItsOwnServersForwards() throws Exception {
        int a = freePort();
        int b = freePort();
        policy(a, b);
        try (Daemon daemon = Daemon.start(config(dir.resolve("allowlists"), "a"))) {
            assertThat(daemon.forwardAddresses()).containsExactly(new InetSocketAddress("127.0.0.1", a));
            try (Socket s = new Socket()) {
                org.assertj.core.api.Assertions.assertThatThrownBy(
                        () -> s.connect(new InetSocketAddress("127.0.0.1", b), 2000))
                        .isInstanceOf(ConnectException.class);
            }
        }
    }
}
