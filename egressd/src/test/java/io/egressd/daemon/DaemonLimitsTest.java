package io.egressd.daemon;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.config.ConfigLoader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * egressd.yaml's {@code limits.connect_timeout} and {@code limits.idle_timeout} reach the HTTP
 * proxy: both are set far below their defaults (10s, 300s), so only the configured values can
 * explain what the client sees.
 */
class DaemonLimitsTest {

    @TempDir
    Path dir;

    /** Never accepts: its accept queue is full, so a connection attempt gets no answer at all. */
    ServerSocket silent;
    final List<Socket> fillers = new ArrayList<>();
    ServerSocket echo;

    @BeforeEach
    void upstreams() throws IOException {
        silent = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
        for (int i = 0; i < 8; i++) {
            Socket filler = new Socket();
            try {
                filler.connect(silent.getLocalSocketAddress(), 300);
                fillers.add(filler);
            } catch (IOException full) {
                filler.close();
                break;
            }
        }
        echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread t = new Thread(() -> {
            try (Socket s = echo.accept()) {
                s.getInputStream().transferTo(s.getOutputStream());
            } catch (IOException e) {
                // closed
            }
        }, "echo-upstream");
        t.setDaemon(true);
        t.start();
    }

    @AfterEach
    void close() throws IOException {
        for (Socket s : fillers) {
            s.close();
        }
        silent.close();
        echo.close();
    }

    private Daemon start() throws Exception {
        Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(dir.resolve("allowlists/app.yaml"), """
                server: app
                clients:
                  sources: [127.0.0.1/32]
                allow:
                  - cidr: 127.0.0.1/32
                    ports: [%d, %d]
                """.formatted(silent.getLocalPort(), echo.getLocalPort()));
        Path config = dir.resolve("egressd.yaml");
        Files.writeString(config, """
                allowlists: allowlists
                listen: {http: "127.0.0.1:0", dns: null, admin: null}
                audit: {output: audit.log}
                limits: {connect_timeout: 1s, idle_timeout: 2s}
                """);
        return Daemon.start(ConfigLoader.load(config));
    }

    private static Socket connect(Daemon daemon, int port) throws IOException {
        Socket s = new Socket();
        s.connect(daemon.proxyAddress(), 5000);
        s.setSoTimeout(15_000);
        s.getOutputStream().write(("CONNECT 127.0.0.1:" + port + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII));
        return s;
    }

    private static String head(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        int b;
        while ((b = in.read()) >= 0) {
            head.write(b);
            if (head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
                break;
            }
        }
        return head.toString(StandardCharsets.ISO_8859_1);
    }

    @Test
    void connectTimeoutFromTheConfigGives504() throws Exception {
        try (Daemon daemon = start(); Socket s = connect(daemon, silent.getLocalPort())) {
            long start = System.nanoTime();
            String head = head(s.getInputStream());
            long millis = (System.nanoTime() - start) / 1_000_000;

            assertThat(head).startsWith("HTTP/1.1 504");
            // The configured 1s, not the default 10s.
            assertThat(millis).isBetween(900L, 8000L);
        }
    }

    @Test
    void idleTimeoutFromTheConfigClosesAQuietTunnel() throws Exception {
        try (Daemon daemon = start(); Socket s = connect(daemon, echo.getLocalPort())) {
            InputStream in = s.getInputStream();
            assertThat(head(in)).startsWith("HTTP/1.1 200");
            s.getOutputStream().write(7);
            assertThat(in.read()).isEqualTo(7);

            long quietSince = System.nanoTime();
            assertThat(in.read()).isEqualTo(-1);
            long millis = (System.nanoTime() - quietSince) / 1_000_000;

            // The configured 2s, not the default 300s.
            assertThat(millis).isBetween(500L, 8000L);
        }
    }
}
