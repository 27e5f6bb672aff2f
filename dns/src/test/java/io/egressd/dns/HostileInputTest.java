package io.egressd.dns;

import static io.egressd.dns.TestUpstream.a;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/** Garbage in: the server keeps answering and writes no stack trace. */
class HostileInputTest {

    private static final int INPUTS = 10_000;
    private static final byte[] VALID = Harness.newQuery("api.example.com", Type.A).toWire();

    @TempDir
    static Path allowlists;
    static Harness dns;
    static ListAppender<ILoggingEvent> log = new ListAppender<>();

    @BeforeAll
    static void start() throws Exception {
        // The per-source UDP rate limit off: at its default a few hundred of the garbage datagrams
        // would be dropped before decoding, and never reach the decoder this test is about.
        dns = Harness.start(allowlists, s -> s.withUdpRateLimit(0, 1), System::nanoTime);
        dns.upstream.answer("api.example.com", Type.A, a("api.example.com", 300, "93.184.215.60"));
        log.start();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).addAppender(log);
    }

    @AfterAll
    static void stop() {
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(log);
        dns.close();
    }

    /** Half pure noise, half a valid query with bytes flipped and its end cut at random. */
    private static byte[] garbage(Random random, int i) {
        if (i % 2 == 0) {
            byte[] noise = new byte[random.nextInt(700)];
            random.nextBytes(noise);
            return noise;
        }
        byte[] mutated = java.util.Arrays.copyOf(VALID, VALID.length + random.nextInt(40));
        for (int flips = 1 + random.nextInt(6); flips > 0; flips--) {
            mutated[random.nextInt(mutated.length)] = (byte) random.nextInt(256);
        }
        return java.util.Arrays.copyOf(mutated, 1 + random.nextInt(mutated.length));
    }

    /** A valid query and its answer; retried, since a kernel buffer full of garbage may drop it. */
    private static byte[] syncOverUdp() throws IOException {
        for (int attempt = 1; ; attempt++) {
            try {
                return RawClient.udp(dns.port(), VALID);
            } catch (java.net.SocketTimeoutException e) {
                if (attempt == 3) {
                    throw e;
                }
            }
        }
    }

    private static void assertStillAnswers() throws IOException {
        for (boolean tcp : new boolean[] {false, true}) {
            Message answer = dns.query("api.example.com", Type.A, tcp);
            assertThat(answer.getRcode()).isEqualTo(Rcode.NOERROR);
            assertThat(((ARecord) answer.getSection(Section.ANSWER).get(0)).getAddress().getHostAddress())
                    .isEqualTo("93.184.215.60");
        }
    }

    private static void assertNoStackTraces() {
        assertThat(log.list).as("log events with a stack trace")
                .filteredOn(e -> e.getThrowableProxy() != null).isEmpty();
        assertThat(log.list).as("warnings or errors").filteredOn(e -> e.getLevel().isGreaterOrEqual(Level.WARN))
                .isEmpty();
    }

    @Test
    void randomDatagramsDoNotStopTheServer() throws Exception {
        Random random = new Random(10);
        int answerable = 0;
        AtomicInteger replies = new AtomicInteger();
        try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))) {
            countReplies(socket, replies);
            InetSocketAddress from = (InetSocketAddress) socket.getLocalSocketAddress();
            for (int i = 0; i < INPUTS; i++) {
                byte[] bytes = garbage(random, i);
                // What the server's decoder makes of it, worked out here: all but a Drop deserve one reply.
                answerable += QueryDecoder.decode(bytes, from, false) instanceof Decoded.Drop ? 0 : 1;
                socket.send(new DatagramPacket(bytes, bytes.length, dns.filter.udpAddress()));
                if (i % 100 == 99) {
                    // Let the server catch up, so the garbage is parsed rather than dropped by the kernel.
                    assertThat(new Message(syncOverUdp()).getRcode()).isEqualTo(Rcode.NOERROR);
                }
            }
            assertThat(dns.listener.dropped.get()).as("datagrams dropped unread by the rate limit").isZero();
            // Every datagram was decoded: none dropped by a rate limit, and one reply for each that
            // deserves one (a reply for a forwarded query may come after the upstream timeout).
            int expected = answerable;
            await().atMost(Duration.ofSeconds(15)).untilAsserted(() ->
                    assertThat(replies.get()).as("replies to the garbage").isEqualTo(expected));
        }
        assertThat(answerable).as("garbage that reaches past the header checks").isGreaterThan(INPUTS / 2);
        assertStillAnswers();
        assertNoStackTraces();
    }

    /** Counts the datagrams {@code socket} receives, on a thread of its own until the socket closes. */
    private static void countReplies(DatagramSocket socket, AtomicInteger replies) {
        Thread t = new Thread(() -> {
            byte[] buffer = new byte[65535];
            while (!socket.isClosed()) {
                try {
                    socket.receive(new DatagramPacket(buffer, buffer.length));
                    replies.incrementAndGet();
                } catch (IOException e) {
                    return;
                }
            }
        }, "garbage-replies");
        t.setDaemon(true);
        t.start();
    }

    @Test
    void randomTcpFramesDoNotStopTheServer() throws Exception {
        Random random = new Random(11);
        int reconnects = 0;
        Socket socket = connect();
        try {
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
            for (int i = 0; i < INPUTS; i++) {
                byte[] frame = garbage(random, i);
                out.writeShort(frame.length);
                out.write(frame);
                if (i % 500 == 499) {
                    out.flush();
                    if (!validAnswerOn(socket, out, 5000 + i)) {
                        reconnects++;
                        socket.close();
                        socket = connect();
                        out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
                    }
                }
            }
            out.flush();
            assertThat(validAnswerOn(socket, out, 4242)).as("the fuzzed connection still answers").isTrue();
        } finally {
            socket.close();
        }
        assertThat(reconnects).as("connections the server dropped").isZero();
        assertStillAnswers();
        assertNoStackTraces();
    }

    private static Socket connect() throws IOException {
        Socket socket = new Socket(InetAddress.getLoopbackAddress(), dns.port());
        socket.setSoTimeout(10_000);
        return socket;
    }

    /** Sends a valid query with {@code id} and reads answers (FORMERRs to the garbage) until its own. */
    private static boolean validAnswerOn(Socket socket, DataOutputStream out, int id) {
        try {
            Message query = Harness.newQuery("api.example.com", Type.A);
            query.getHeader().setID(id & 0xffff);
            byte[] wire = query.toWire();
            out.writeShort(wire.length);
            out.write(wire);
            out.flush();
            DataInputStream in = new DataInputStream(socket.getInputStream());
            while (true) {
                byte[] answer = new byte[in.readUnsignedShort()];
                in.readFully(answer);
                Message m;
                try {
                    m = new Message(answer);
                } catch (IOException e) {
                    throw new AssertionError("the server sent an unparseable answer", e);
                }
                if (m.getHeader().getID() == (id & 0xffff) && m.getQuestion() != null
                        && m.getQuestion().equals(query.getQuestion()) && m.getRcode() == Rcode.NOERROR) {
                    return true;
                }
            }
        } catch (IOException e) {
            return false;
        }
    }
}
