package io.egressd.proxy;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/** A DNS server on 127.0.0.1 (UDP) that egressd's DNS filter forwards to: A records set by the test, else NXDOMAIN. */
final class LoopbackDnsUpstream implements AutoCloseable {

    private final DatagramSocket socket;
    private final Map<Name, ARecord> zone = new ConcurrentHashMap<>();

    LoopbackDnsUpstream() throws IOException {
        socket = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        Thread t = new Thread(this::serve, "loopback-dns-upstream");
        t.setDaemon(true);
        t.start();
    }

    LoopbackDnsUpstream a(String name, String address, long ttl) throws IOException {
        Name n = Name.fromString(name, Name.root);
        zone.put(n, new ARecord(n, DClass.IN, ttl, InetAddress.getByName(address)));
        return this;
    }

    InetSocketAddress address() {
        return (InetSocketAddress) socket.getLocalSocketAddress();
    }

    private void serve() {
        byte[] buffer = new byte[4096];
        while (!socket.isClosed()) {
            try {
                DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                socket.receive(packet);
                Message query = new Message(java.util.Arrays.copyOf(packet.getData(), packet.getLength()));
                Record q = query.getQuestion();
                Message reply = new Message(query.getHeader().getID());
                reply.getHeader().setFlag(Flags.QR);
                reply.getHeader().setFlag(Flags.AA);
                reply.addRecord(q, Section.QUESTION);
                ARecord a = zone.get(q.getName());
                if (a != null && q.getType() == Type.A) {
                    reply.addRecord(a, Section.ANSWER);
                } else if (a == null) {
                    reply.getHeader().setRcode(Rcode.NXDOMAIN);
                }
                byte[] wire = reply.toWire();
                socket.send(new DatagramPacket(wire, wire.length, packet.getSocketAddress()));
            } catch (IOException e) {
                if (socket.isClosed()) {
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        socket.close();
    }
}
