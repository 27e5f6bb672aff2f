package io.egressd.proxy;

import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.PortUnreachableException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What getaddrinfo does when resolv.conf names one server and that server is dead, for
 * {@link SystemNameResolver} in tests: a real DNS query (A, over UDP) to a loopback server the
 * test controls, then a blocking wait for the answer, as glibc waits ({@code timeout:5} by
 * default). A closed port is refused at once (ICMP port unreachable); a server that never answers
 * holds the calling thread for the whole wait. The test servers never answer, so an answer is an
 * error here.
 */
final class UnansweredDnsLookup implements SystemNameResolver.Lookup {

    private final InetSocketAddress server;
    private final Duration wait;

    UnansweredDnsLookup(InetSocketAddress server, Duration wait) {
        if (!server.getAddress().isLoopbackAddress()) {
            throw new IllegalArgumentException("tests ask loopback DNS servers only, not " + server);
        }
        this.server = server;
        this.wait = wait;
    }

    @Override
    public java.net.InetAddress[] all(String name) throws UnknownHostException {
        try (DatagramSocket socket = new DatagramSocket()) {
            socket.connect(server);
            socket.setSoTimeout((int) wait.toMillis());
            byte[] query = query(name);
            socket.send(new DatagramPacket(query, query.length));
            byte[] buffer = new byte[512];
            socket.receive(new DatagramPacket(buffer, buffer.length));
            throw new IllegalStateException("the test's DNS server " + server + " was not meant to answer");
        } catch (PortUnreachableException e) {
            throw new UnknownHostException(name + ": DNS server " + server + " refused the query");
        } catch (SocketTimeoutException e) {
            throw new UnknownHostException(name + ": DNS server " + server + " did not answer in " + wait);
        } catch (IOException e) {
            throw new UnknownHostException(name + ": " + e);
        }
    }

    /** A standard query for the A records of {@code name} (absolute or not), recursion desired. */
    static byte[] query(String name) {
        ByteBuffer b = ByteBuffer.allocate(512);
        b.putShort((short) ThreadLocalRandom.current().nextInt(1 << 16)).putShort((short) 0x0100)
                .putShort((short) 1).putShort((short) 0).putShort((short) 0).putShort((short) 0);
        for (String label : name.split("\\.")) {
            if (!label.isEmpty()) {
                byte[] bytes = label.getBytes(StandardCharsets.US_ASCII);
                b.put((byte) bytes.length).put(bytes);
            }
        }
        b.put((byte) 0).putShort((short) 1).putShort((short) 1);
        byte[] out = new byte[b.position()];
        b.flip().get(out);
        return out;
    }
}
