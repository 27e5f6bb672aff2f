package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.policy.Policy;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * A corpus of malformed proxy requests, sent over a raw socket to a real {@link EgressProxy}:
 * request smuggling shapes (CL+TE, duplicate Content-Length), obsolete or sloppy syntax
 * (obs-fold, bare LF, HTTP/0.9, two spaces, lowercase method), oversize input, NUL bytes, and
 * targets a resolver or upstream could read differently from egressd (no port, userinfo,
 * fragment, zone id). Each is refused with 400 or 403, or the connection is closed, and the
 * upstream it names never sees a connection.
 *
 * <p>The allowlist allows that upstream: every row also has the well-formed request it is a
 * corruption of, and {@link #theWellFormedTwinIsForwarded} shows that request going through to
 * a second upstream the allowlist treats identically, so a proxy that let the malformed one
 * through would really have reached the first.
 */
class MalformedRequestsTest {

    /** What the client sees. */
    enum Outcome { BAD_REQUEST_400, FORBIDDEN_403, CLOSED }

    private static final String LONG = "a".repeat(70_000);

    @TempDir
    static Path dir;

    /** The upstream the malformed requests name: it must never accept a connection. */
    static CountingHttpServer target;
    /** The upstream the well-formed twins name, allowed by the same rules. */
    static CountingHttpServer control;
    static ProxyFixture fx;

    @BeforeAll
    static void start() throws IOException {
        target = new CountingHttpServer("127.0.0.1", 0, "target");
        control = new CountingHttpServer("127.0.0.1", 0, "control");
        Policy policy = Allowlist.load(dir, Allowlist.server("app").source("127.0.0.0/8")
                .host("allowed.test", target.port(), control.port())
                .cidr("127.0.0.1/32", target.port(), control.port()));
        fx = new ProxyFixture(policy, new LoopbackResolver().answer("allowed.test", "127.0.0.1"));
    }

    @AfterAll
    static void stop() {
        fx.close();
        target.close();
        control.close();
    }

    @AfterAll
    static void theTargetNeverSawAConnection() {
        assertThat(target.accepts()).as("connections the named upstream accepted, all rows").isZero();
    }

    /** {@code {port}} stands for the upstream's port, {@code {h}} for allowed.test:{port}. */
    static Stream<Arguments> corpus() {
        String get = "GET http://{h}/ HTTP/1.1\r\nHost: {h}\r\n";
        return Stream.of(
                row("CL+TE", Outcome.BAD_REQUEST_400,
                        "POST http://{h}/ HTTP/1.1\r\nHost: {h}\r\nContent-Length: 5\r\n"
                                + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                        "POST http://{h}/ HTTP/1.1\r\nHost: {h}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
                row("duplicate Content-Length, same value", Outcome.BAD_REQUEST_400,
                        "POST http://{h}/ HTTP/1.1\r\nHost: {h}\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
                        "POST http://{h}/ HTTP/1.1\r\nHost: {h}\r\nContent-Length: 5\r\n\r\nhello"),
                row("duplicate Content-Length, different values", Outcome.BAD_REQUEST_400,
                        "POST http://{h}/ HTTP/1.1\r\nHost: {h}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                        "POST http://{h}/ HTTP/1.1\r\nHost: {h}\r\nContent-Length: 6\r\n\r\nhello!"),
                row("obs-fold header continuation", Outcome.BAD_REQUEST_400,
                        get + "X-Folded: one\r\n two\r\n\r\n",
                        get + "X-Folded: one two\r\n\r\n"),
                row("bare LF line endings", Outcome.BAD_REQUEST_400,
                        "GET http://{h}/ HTTP/1.1\nHost: {h}\n\n",
                        get + "\r\n"),
                row("over-long request line", Outcome.BAD_REQUEST_400,
                        "GET http://{h}/" + LONG + " HTTP/1.1\r\nHost: {h}\r\n\r\n",
                        "GET http://{h}/aaaa HTTP/1.1\r\nHost: {h}\r\n\r\n"),
                row("over-long header", Outcome.BAD_REQUEST_400,
                        get + "X-Long: " + LONG + "\r\n\r\n",
                        get + "X-Long: aaaa\r\n\r\n"),
                // 300 short fields: within the header size limit, beyond the count limit.
                row("too many headers", Outcome.BAD_REQUEST_400,
                        get + "X-Many: 1\r\n".repeat(300) + "\r\n",
                        get + "X-Many: 1\r\n".repeat(10) + "\r\n"),
                row("NUL byte in the request line", Outcome.BAD_REQUEST_400,
                        "GET http://{h}/a\0b HTTP/1.1\r\nHost: {h}\r\n\r\n",
                        "GET http://{h}/ab HTTP/1.1\r\nHost: {h}\r\n\r\n"),
                row("NUL byte in a header", Outcome.BAD_REQUEST_400,
                        get + "X-Nul: a\0b\r\n\r\n",
                        get + "X-Nul: ab\r\n\r\n"),
                row("CONNECT without a port", Outcome.FORBIDDEN_403,
                        "CONNECT allowed.test HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
                        "CONNECT {h} HTTP/1.1\r\nHost: {h}\r\n\r\n"),
                row("absolute URI with userinfo", Outcome.FORBIDDEN_403,
                        "GET http://user:secret@{h}/ HTTP/1.1\r\nHost: {h}\r\n\r\n",
                        get + "\r\n"),
                row("HTTP/0.9-style request", Outcome.BAD_REQUEST_400,
                        "GET http://{h}/\r\n\r\n",
                        get + "\r\n"),
                row("two spaces in the request line", Outcome.BAD_REQUEST_400,
                        "GET  http://{h}/ HTTP/1.1\r\nHost: {h}\r\n\r\n",
                        get + "\r\n"),
                row("lowercase method", Outcome.BAD_REQUEST_400,
                        "get http://{h}/ HTTP/1.1\r\nHost: {h}\r\n\r\n",
                        get + "\r\n"),
                row("absolute URI with a fragment", Outcome.BAD_REQUEST_400,
                        "GET http://{h}/#top HTTP/1.1\r\nHost: {h}\r\n\r\n",
                        get + "\r\n"),
                row("host with a zone id", Outcome.FORBIDDEN_403,
                        "CONNECT [::ffff:127.0.0.1%25lo]:{port} HTTP/1.1\r\nHost: [::ffff:127.0.0.1%25lo]:{port}\r\n\r\n",
                        "CONNECT [::ffff:127.0.0.1]:{port} HTTP/1.1\r\nHost: [::ffff:127.0.0.1]:{port}\r\n\r\n"));
    }

    private static Arguments row(String name, Outcome expected, String malformed, String wellFormed) {
        return Arguments.of(name, expected, malformed, wellFormed);
    }

    private static byte[] fill(String template, int port) {
        return template.replace("{h}", "allowed.test:{port}").replace("{port}", Integer.toString(port))
                .getBytes(StandardCharsets.ISO_8859_1);
    }

    @ParameterizedTest(name = "{0}: {1}")
    @MethodSource("corpus")
    void isRefusedAndNeverReachesTheUpstream(String name, Outcome expected, String malformed, String wellFormed)
            throws IOException, InterruptedException {
        int before = target.accepts();
        Outcome outcome = exchange(fill(malformed, target.port()));
        // A proxy that refused and forwarded anyway would connect on its own schedule: give it time.
        Thread.sleep(150);
        assertThat(target.accepts() - before).as("connections the named upstream accepted for: " + name).isZero();
        assertThat(outcome).as(name).isEqualTo(expected);
    }

    @ParameterizedTest(name = "well-formed twin of {0} is forwarded")
    @MethodSource("corpus")
    void theWellFormedTwinIsForwarded(String name, Outcome expected, String malformed, String wellFormed)
            throws Exception {
        int before = control.accepts();
        try (Socket socket = new Socket()) {
            socket.connect(fx.address(), 5000);
            socket.setSoTimeout(10_000);
            socket.getOutputStream().write(fill(wellFormed, control.port()));
            socket.getOutputStream().flush();
            RawHttp.Response response = RawHttp.read(socket, false);
            assertThat(response.status()).as(name).isEqualTo(200);
            if (!wellFormed.startsWith("CONNECT")) {
                assertThat(response.body()).isEqualTo(control.body());
            }
        }
        org.awaitility.Awaitility.await().atMost(java.time.Duration.ofSeconds(5))
                .untilAsserted(() -> assertThat(control.accepts()).as(name).isEqualTo(before + 1));
    }

    /** Sends the bytes and sees what comes back: a status, or the connection closing without one. */
    private static Outcome exchange(byte[] request) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(fx.address(), 5000);
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            try {
                out.write(request);
                out.flush();
            } catch (IOException e) {
                // The proxy stopped reading an oversize request and closed: see what it said first.
            }
            InputStream in = socket.getInputStream();
            String head;
            try {
                head = CountingHttpServer.readHead(in);
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the proxy neither answered nor closed within 10 s", e);
            } catch (IOException e) {
                return Outcome.CLOSED; // reset
            }
            if (head == null) {
                return Outcome.CLOSED;
            }
            int status = Integer.parseInt(head.split(" ", 3)[1]);
            return switch (status) {
                case 400 -> Outcome.BAD_REQUEST_400;
                case 403 -> Outcome.FORBIDDEN_403;
                default -> throw new AssertionError("answered " + head.lines().findFirst().orElse(head));
            };
        }
    }
}
