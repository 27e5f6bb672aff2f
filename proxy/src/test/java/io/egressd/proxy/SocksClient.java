package io.egressd.proxy;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/** A SOCKS5 client written from RFC 1928 and RFC 1929, byte by byte, to see exactly what egressd answers. */
final class SocksClient implements AutoCloseable {

    static final int NO_AUTH = 0x00;
    static final int PASSWORD = 0x02;
    static final int CONNECT = 0x01;
    static final int BIND = 0x02;
    static final int UDP_ASSOCIATE = 0x03;

    final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;

    SocksClient(InetSocketAddress proxy) throws IOException {
        this(proxy, null);
    }

    /** @param source a loopback address to connect from, or null */
    SocksClient(InetSocketAddress proxy, String source) throws IOException {
        socket = new Socket();
        if (source != null) {
            socket.bind(new InetSocketAddress(InetAddress.getByName(source), 0));
        }
        socket.connect(proxy, 5000);
        socket.setSoTimeout(10_000);
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    /** Offers {@code methods}; the method the server chose (0xFF: none acceptable). */
    int greet(int... methods) throws IOException {
        byte[] b = new byte[2 + methods.length];
        b[0] = 5;
        b[1] = (byte) methods.length;
        for (int i = 0; i < methods.length; i++) {
            b[2 + i] = (byte) methods[i];
        }
        out.write(b);
        out.flush();
        int version = in.readUnsignedByte();
        if (version != 5) {
            throw new IOException("version " + version);
        }
        return in.readUnsignedByte();
    }

    /** RFC 1929; the status (0: success). */
    int login(String user, String password) throws IOException {
        byte[] u = user.getBytes(StandardCharsets.US_ASCII);
        byte[] p = password.getBytes(StandardCharsets.US_ASCII);
        byte[] b = new byte[3 + u.length + p.length];
        b[0] = 1;
        b[1] = (byte) u.length;
        System.arraycopy(u, 0, b, 2, u.length);
        b[2 + u.length] = (byte) p.length;
        System.arraycopy(p, 0, b, 3 + u.length, p.length);
        out.write(b);
        out.flush();
        in.readUnsignedByte();
        return in.readUnsignedByte();
    }

    /** A request with a domain name; the reply code. */
    int requestName(int command, String name, int port) throws IOException {
        byte[] n = name.getBytes(StandardCharsets.ISO_8859_1);
        byte[] b = new byte[7 + n.length];
        b[0] = 5;
        b[1] = (byte) command;
        b[3] = 3;
        b[4] = (byte) n.length;
        System.arraycopy(n, 0, b, 5, n.length);
        b[5 + n.length] = (byte) (port >> 8);
        b[6 + n.length] = (byte) port;
        out.write(b);
        out.flush();
        return reply();
    }

    /** A request with an IPv4 or IPv6 address; the reply code. */
    int requestAddress(int command, InetAddress address, int port) throws IOException {
        byte[] a = address.getAddress();
        byte[] b = new byte[6 + a.length];
        b[0] = 5;
        b[1] = (byte) command;
        b[3] = (byte) (a.length == 4 ? 1 : 4);
        System.arraycopy(a, 0, b, 4, a.length);
        b[4 + a.length] = (byte) (port >> 8);
        b[5 + a.length] = (byte) port;
        out.write(b);
        out.flush();
        return reply();
    }

    /** Sends raw bytes (e.g. a request with an unknown address type); the reply code. */
    int requestRaw(byte... request) throws IOException {
        out.write(request);
        out.flush();
        return reply();
    }

    /** The bound address of the last successful reply. */
    InetSocketAddress bound;

    private int reply() throws IOException {
        int version = in.readUnsignedByte();
        if (version != 5) {
            throw new IOException("version " + version);
        }
        int code = in.readUnsignedByte();
        in.readUnsignedByte();
        int type = in.readUnsignedByte();
        byte[] address = new byte[type == 1 ? 4 : type == 4 ? 16 : in.readUnsignedByte()];
        in.readFully(address);
        int port = in.readUnsignedShort();
        if (type != 3) {
            bound = new InetSocketAddress(InetAddress.getByAddress(address), port);
        }
        return code;
    }

    /** Whether the server closed the connection (end of stream or reset) within the socket timeout. */
    boolean closedByServer() {
        try {
            return in.read() < 0;
        } catch (EOFException e) {
            return true;
        } catch (IOException e) {
            return !(e instanceof java.net.SocketTimeoutException);
        }
    }

    OutputStream out() {
        return out;
    }

    DataInputStream in() {
        return in;
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
