package io.egressd.dns;

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
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.TXTRecord;
import org.xbill.DNS.Type;

/**
 * An authoritative-ish DNS server on 127.0.0.1 (UDP and TCP, one port) that the tests use as
 * egressd's upstream: a zone set by the test, NXDOMAIN with an SOA for everything else, a
 * counter of the queries it received, and a switch that makes it go silent (a dead upstream).
 */
final class TestUpstream implements AutoCloseable {

    static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();

    private record Entry(List<Record> answer, List<Record> additional) { }

    private final DatagramSocket udp;
    private final ServerSocket tcp;
    private final Map<String, Entry> zone = new ConcurrentHashMap<>();
    private final AtomicInteger queries = new AtomicInteger();
    private final List<Message> received = Collections.synchronizedList(new ArrayList<>());
    private final List<Socket> connections = Collections.synchronizedList(new ArrayList<>());
    private volatile boolean silent;
    private volatile long negativeTtl = 60;

    private TestUpstream(DatagramSocket udp, ServerSocket tcp) {
        this.udp = udp;
        this.tcp = tcp;
        daemon("test-upstream-udp", this::serveUdp);
        daemon("test-upstream-tcp", this::acceptTcp);
    }

    static TestUpstream start() throws IOException {
        IOException last = null;
        for (int i = 0; i < 5; i++) {
            DatagramSocket udp = new DatagramSocket(new InetSocketAddress(LOOPBACK, 0));
            try {
                ServerSocket tcp = new ServerSocket(udp.getLocalPort(), 50, LOOPBACK);
                return new TestUpstream(udp, tcp);
            } catch (IOException e) {
                udp.close();
                last = e;
            }
        }
        throw last;
    }

    InetSocketAddress address() {
        return new InetSocketAddress(LOOPBACK, udp.getLocalPort());
    }

    /** Answers {@code name}/{@code type} with these records in the answer section. */
    TestUpstream answer(String name, int type, Record... answer) {
        return answer(name, type, List.of(answer), List.of());
    }

    TestUpstream answer(String name, int type, List<Record> answer, List<Record> additional) {
        zone.put(key(name, type), new Entry(List.copyOf(answer), List.copyOf(additional)));
        return this;
    }

    /** The SOA minimum (and TTL) of NXDOMAIN answers, the negative TTL of RFC 2308. */
    void negativeTtl(long seconds) {
        negativeTtl = seconds;
    }

    void silent(boolean silent) {
        this.silent = silent;
    }

    int queries() {
        return queries.get();
    }

    int queriesFor(String name) {
        synchronized (received) {
            int n = 0;
            for (Message m : received) {
                if (m.getQuestion().getName().toString(true).equalsIgnoreCase(name)) {
                    n++;
                }
            }
            return n;
        }
    }

    List<Message> received() {
        synchronized (received) {
            return List.copyOf(received);
        }
    }

    static Name name(String text) {
        try {
            return Name.fromString(text.endsWith(".") ? text : text + ".");
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    static ARecord a(String name, long ttl, String address) {
        try {
            return new ARecord(name(name), DClass.IN, ttl, InetAddress.getByName(address));
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    static AAAARecord aaaa(String name, long ttl, String address) {
        try {
            return new AAAARecord(name(name), DClass.IN, ttl, InetAddress.getByName(address));
        } catch (IOException e) {
            throw new IllegalArgumentException(e);
        }
    }

    static CNAMERecord cname(String name, long ttl, String target) {
        return new CNAMERecord(name(name), DClass.IN, ttl, name(target));
    }

    static TXTRecord txt(String name, long ttl, String... strings) {
        return new TXTRecord(name(name), DClass.IN, ttl, List.of(strings));
    }

    Message respond(Message query) {
        Record q = query.getQuestion();
        Message r = new Message(query.getHeader().getID());
        r.getHeader().setFlag(Flags.QR);
        r.getHeader().setFlag(Flags.AA);
        if (query.getHeader().getFlag(Flags.RD)) {
            r.getHeader().setFlag(Flags.RD);
        }
        r.addRecord(q, Section.QUESTION);
        Entry entry = zone.get(key(q.getName().toString(true), q.getType()));
        if (entry == null) {
            boolean nameExists = zone.keySet().stream()
                    .anyMatch(k -> k.startsWith(q.getName().toString(true).toLowerCase(Locale.ROOT) + "/"));
            r.getHeader().setRcode(nameExists ? Rcode.NOERROR : Rcode.NXDOMAIN);
            r.addRecord(new SOARecord(name("example.org"), DClass.IN, negativeTtl, name("ns.example.org"),
                    name("hostmaster.example.org"), 1, 3600, 600, 86400, negativeTtl), Section.AUTHORITY);
        } else {
            entry.answer.forEach(rec -> r.addRecord(rec, Section.ANSWER));
            entry.additional.forEach(rec -> r.addRecord(rec, Section.ADDITIONAL));
        }
        if (query.getOPT() != null) {
            r.addRecord(new OPTRecord(4096, 0, 0), Section.ADDITIONAL);
        }
        return r;
    }

    private static String key(String name, int type) {
        String n = name.endsWith(".") ? name.substring(0, name.length() - 1) : name;
        return n.toLowerCase(Locale.ROOT) + "/" + Type.string(type);
    }

    private Message count(byte[] wire) throws IOException {
        Message query = new Message(wire);
        queries.incrementAndGet();
        received.add(query);
        return query;
    }

    private void serveUdp() {
        byte[] buffer = new byte[65535];
        while (!udp.isClosed()) {
            try {
                DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                udp.receive(packet);
                Message query = count(java.util.Arrays.copyOf(packet.getData(), packet.getLength()));
                if (silent) {
                    continue;
                }
                int max = query.getOPT() == null ? 512 : Math.max(512, query.getOPT().getPayloadSize());
                byte[] out = respond(query).toWire(max);
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
                connections.add(socket);
                daemon("test-upstream-tcp-conn", () -> serveTcp(socket));
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
                Message query = count(wire);
                if (silent) {
                    continue;
                }
                byte[] answer = respond(query).toWire(65535);
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
    public void close() {
        udp.close();
        try {
            tcp.close();
        } catch (IOException e) {
            // Closing anyway.
        }
        synchronized (connections) {
            for (Socket s : connections) {
                try {
                    s.close();
                } catch (IOException e) {
                    // Closing anyway.
                }
            }
        }
    }
}
