package io.egressd.e2e;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * egressd's upstream DNS server in these tests, on 127.0.0.1 (UDP and TCP, one port): A records
 * set by the test, NXDOMAIN with an SOA for everything else, and a count of what reached it.
 * (A trimmed copy of the dns module's TestUpstream.)
 */
final class DnsUpstream implements AutoCloseable {

    private final DatagramSocket udp;
    private final ServerSocket tcp;
    private final Map<String, InetAddress> zone = new ConcurrentHashMap<>();
    private final Map<String, AtomicInteger> asked = new ConcurrentHashMap<>();
    final AtomicInteger queries = new AtomicInteger();

    private DnsUpstream(DatagramSocket udp, ServerSocket tcp) {
        this.udp = udp;
        this.tcp = tcp;
        daemon("dns-upstream-udp", this::serveUdp);
        daemon("dns-upstream-tcp", this::acceptTcp);
    }

    static DnsUpstream start() throws IOException {
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        IOException last = null;
        for (int i = 0; i < 5; i++) {
            DatagramSocket udp = new DatagramSocket(new InetSocketAddress(loopback, 0));
            try {
                return new DnsUpstream(udp, new ServerSocket(udp.getLocalPort(), 50, loopback));
            } catch (IOException e) {
                udp.close();
                last = e;
            }
        }
        throw last;
    }

    /** For egressd.yaml's dns.upstreams. */
    String address() {
        return "127.0.0.1:" + udp.getLocalPort();
    }

    DnsUpstream a(String name, String address) throws IOException {
        zone.put(key(name), InetAddress.getByName(address));
        return this;
    }

    /** How many queries for {@code name} reached this upstream. */
    int asked(String name) {
        AtomicInteger n = asked.get(key(name));
        return n == null ? 0 : n.get();
    }

    private static String key(String name) {
        return (name.endsWith(".") ? name.substring(0, name.length() - 1) : name).toLowerCase(Locale.ROOT);
    }

    private Message respond(byte[] wire) throws IOException {
        Message query = new Message(wire);
        queries.incrementAndGet();
        Record q = query.getQuestion();
        String name = key(q.getName().toString(true));
        asked.computeIfAbsent(name, k -> new AtomicInteger()).incrementAndGet();
        Message r = new Message(query.getHeader().getID());
        r.getHeader().setFlag(Flags.QR);
        r.getHeader().setFlag(Flags.AA);
        if (query.getHeader().getFlag(Flags.RD)) {
            r.getHeader().setFlag(Flags.RD);
        }
        r.addRecord(q, Section.QUESTION);
        InetAddress address = zone.get(name);
        if (address == null) {
            r.getHeader().setRcode(Rcode.NXDOMAIN);
            Name origin = Name.fromString("example.org.");
            r.addRecord(new SOARecord(origin, DClass.IN, 60, Name.fromString("ns.example.org."),
                    Name.fromString("hostmaster.example.org."), 1, 3600, 600, 86400, 60), Section.AUTHORITY);
        } else if (q.getType() == Type.A) {
            r.addRecord(new ARecord(q.getName(), DClass.IN, 300, address), Section.ANSWER);
        }
        if (query.getOPT() != null) {
            r.addRecord(new OPTRecord(4096, 0, 0), Section.ADDITIONAL);
        }
        return r;
    }

    private void serveUdp() {
        byte[] buffer = new byte[65535];
        while (!udp.isClosed()) {
            try {
                DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                udp.receive(packet);
                byte[] out = respond(java.util.Arrays.copyOf(packet.getData(), packet.getLength())).toWire(512);
                udp.send(new DatagramPacket(out, out.length, packet.getSocketAddress()));
            } catch (SocketException e) {
                return;
            } catch (IOException e) {
                // A malformed query: ignored, as a real server would.
            }
        }
    }

    private void acceptTcp() {
        while (!tcp.isClosed()) {
            try {
                Socket socket = tcp.accept();
                daemon("dns-upstream-tcp-conn", () -> serveTcp(socket));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serveTcp(Socket socket) {
        try (socket; DataInputStream in = new DataInputStream(socket.getInputStream());
             DataOutputStream out = new DataOutputStream(socket.getOutputStream())) {
            while (true) {
                byte[] wire = new byte[in.readUnsignedShort()];
                in.readFully(wire);
                byte[] answer = respond(wire).toWire(65535);
                out.writeShort(answer.length);
                out.write(answer);
                out.flush();
            }
        } catch (IOException e) {
            // The connection ended.
        }
    }

    private static void daemon(String name, Runnable body) {
        Thread t = new Thread(body, name);
        t.setDaemon(true);
        t.start();
    }

    @Override
    public void close() throws IOException {
        udp.close();
        tcp.close();
    }
}
