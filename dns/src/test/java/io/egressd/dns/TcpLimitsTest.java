package io.egressd.dns;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.policy.Reason;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Type;

/**
 * DNS over TCP under floods: connections over the global or per-source caps are closed at
 * accept, unread, from unknown sources (whose queries are otherwise answered REFUSED) as from
 * known ones; a frame trickled in is closed at the frame timeout; a frame of the full 65,535
 * bytes is still read.
 */
class TcpLimitsTest {

    @TempDir
    Path allowlists;

    static Socket from(String source, InetSocketAddress to) throws IOException {
        Socket socket = new Socket();
        socket.bind(new InetSocketAddress(source, 0));
        socket.connect(to, 5000);
        return socket;
    }

    static boolean closedByPeer(Socket socket, Duration within) throws IOException {
        socket.setSoTimeout((int) within.toMillis());
        try {
            while (socket.getInputStream().read() >= 0) {
                // drain until the close
            }
            return true;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (SocketException e) {
            return true;
        }
    }

    static Harness started(Harness dns) {
        dns.upstream.answer("api.example.com", Type.A, TestUpstream.a("api.example.com", 300, "93.184.215.14"));
        return dns;
    }

    /** Sends one query for api.example.com on {@code socket} and reads frames until its answer. */
    static Message ask(Socket socket, int id) throws IOException {
        Message query = Harness.newQuery("api.example.com", Type.A);
        query.getHeader().setID(id);
        byte[] wire = query.toWire();
        DataOutputStream out = new DataOutputStream(socket.getOutputStream());
        out.writeShort(wire.length);
        out.write(wire);
        out.flush();
        socket.setSoTimeout(5000);
        DataInputStream in = new DataInputStream(socket.getInputStream());
        while (true) {
            byte[] frame = new byte[in.readUnsignedShort()];
            in.readFully(frame);
            Message answer = new Message(frame);
            if (answer.getHeader().getID() == id) {
                return answer;
            }
        }
    }

    @Test
    void anUnknownSourceIsAnsweredRefusedWithinTheSameConnectionCaps() throws Exception {
        List<Socket> sockets = new ArrayList<>();
        try (Harness dns = started(Harness.start(allowlists, s -> s.withTcpLimits(3, 2, Duration.ofSeconds(5)),
                System::nanoTime))) {
            InetSocketAddress tcp = dns.filter.tcpAddress();
            Socket first = from("127.0.0.9", tcp);
            Socket second = from("127.0.0.9", tcp);
            sockets.addAll(List.of(first, second));
            // Each query answered REFUSED, and the connection goes on for the next.
            assertThat(ask(first, 1).getRcode()).isEqualTo(Rcode.REFUSED);
            assertThat(ask(first, 2).getRcode()).isEqualTo(Rcode.REFUSED);
            assertThat(ask(second, 3).getRcode()).isEqualTo(Rcode.REFUSED);
            assertThat(dns.upstream.queries()).isZero();
            assertThat(dns.listener.queries).hasSize(3).allSatisfy(q -> {
                assertThat(q.decision().reason()).isEqualTo(Reason.UNKNOWN_CLIENT);
                assertThat(q.rcode()).isEqualTo("REFUSED");
            });

            // The per-source cap holds for an unknown source as for any: its third is closed at accept ...
            try (Socket third = from("127.0.0.9", tcp)) {
                assertThat(closedByPeer(third, Duration.ofSeconds(5))).isTrue();
            }
            assertThat(dns.filter.openTcpConnections()).isEqualTo(2);
            // ... a known client takes the last slot, and the global cap closes the next, whoever it is.
            Socket app = from("127.0.0.1", tcp);
            sockets.add(app);
            assertThat(ask(app, 4).getRcode()).isEqualTo(Rcode.NOERROR);
            try (Socket over = from("127.0.0.10", tcp)) {
                assertThat(closedByPeer(over, Duration.ofSeconds(5))).isTrue();
            }
            assertThat(dns.listener.rejected).containsExactly("dns_tcp/max_connections_per_source",
                    "dns_tcp/max_connections");
        } finally {
            for (Socket s : sockets) {
                s.close();
            }
        }
    }

    @Test
    void connectionsOverTheGlobalOrPerSourceCapAreClosedAtAccept() throws Exception {
        List<Socket> sockets = new ArrayList<>();
        try (Harness dns = started(Harness.start(allowlists, s -> s.withTcpLimits(3, 2, Duration.ofSeconds(5)),
                System::nanoTime))) {
            InetSocketAddress tcp = dns.filter.tcpAddress();
            List<Socket> app = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                Socket s = from("127.0.0.1", tcp);
                sockets.add(s);
                app.add(s);
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> dns.filter.openTcpConnections() == 2);
            int closed = 0;
            for (Socket s : app) {
                closed += closedByPeer(s, Duration.ofMillis(300)) ? 1 : 0;
            }
            assertThat(closed).as("app's connections beyond its per-source cap").isEqualTo(2);

            // The flooding source cannot take the other server's slot ...
            Socket other = from("127.0.0.2", tcp);
            sockets.add(other);
            assertThat(ask(other, 11).getRcode()).isEqualTo(Rcode.NOERROR); // "other" is in report mode
            // ... and the global cap closes the next one, whoever it is.
            try (Socket over = from("127.0.0.2", tcp)) {
                assertThat(closedByPeer(over, Duration.ofSeconds(5))).isTrue();
            }
            assertThat(dns.filter.openTcpConnections()).isEqualTo(3);
            assertThat(dns.listener.rejected).containsExactly("dns_tcp/max_connections_per_source",
                    "dns_tcp/max_connections_per_source", "dns_tcp/max_connections");
        } finally {
            for (Socket s : sockets) {
                s.close();
            }
        }
    }

    @Test
    void aFrameTrickledAByteASecondIsClosedAtTheFrameTimeout() throws Exception {
        try (Harness dns = Harness.start(allowlists, s -> s.withTcpLimits(10, 10, Duration.ofSeconds(2)),
                System::nanoTime);
             Socket slow = from("127.0.0.1", dns.filter.tcpAddress())) {
            byte[] query = Harness.newQuery("api.example.com", Type.A).toWire();
            byte[] frame = new byte[query.length + 2];
            frame[0] = (byte) (query.length >> 8);
            frame[1] = (byte) query.length;
            System.arraycopy(query, 0, frame, 2, query.length);
            AtomicInteger sent = new AtomicInteger();
            Thread trickle = new Thread(() -> {
                try {
                    for (byte b : frame) {
                        slow.getOutputStream().write(b);
                        slow.getOutputStream().flush();
                        sent.incrementAndGet();
                        Thread.sleep(1000);
                    }
                } catch (IOException | InterruptedException e) {
                    // closed: stop
                }
            }, "dns-trickle");
            trickle.setDaemon(true);
            trickle.start();
            try {
                assertThat(closedByPeer(slow, Duration.ofSeconds(10))).isTrue();
                assertThat(sent.get()).isBetween(1, frame.length - 1);
            } finally {
                trickle.interrupt();
            }
            await().atMost(Duration.ofSeconds(5)).until(() -> dns.filter.openTcpConnections() == 0);
            assertThat(dns.listener.rejected).containsExactly("dns_tcp/frame_timeout");
        }
    }

    @Test
    void aFrameOfTheFull65535BytesIsReadAndTheConnectionGoesOn() throws Exception {
        try (Harness dns = started(Harness.start(allowlists));
             Socket app = from("127.0.0.1", dns.filter.tcpAddress())) {
            DataOutputStream out = new DataOutputStream(app.getOutputStream());
            out.writeShort(65_535);
            out.write(new byte[65_535]);
            out.flush();
            // Were the big frame refused as too long, the connection would be closed here.
            assertThat(ask(app, 4242).getRcode()).isEqualTo(Rcode.NOERROR);
        }
    }
}
