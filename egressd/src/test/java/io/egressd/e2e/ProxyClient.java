package io.egressd.e2e;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One client connection to the proxy, from a chosen loopback source address (which is how a
 * shared egressd tells servers apart by {@code clients.sources}), speaking HTTP/1.1 by hand:
 * keep-alive requests one after another on the same connection, or a CONNECT tunnel.
 */
final class ProxyClient implements AutoCloseable {

    record Response(int status, Map<String, String> headers, String body) {
        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        boolean closes() {
            return "close".equalsIgnoreCase(header("connection"));
        }
    }

    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    private ProxyClient(Socket socket) throws IOException {
        this.socket = socket;
        this.in = new BufferedInputStream(socket.getInputStream(), 8192);
        this.out = socket.getOutputStream();
    }

    /** Connects to the proxy on 127.0.0.1:{@code proxyPort} from {@code source} (e.g. "127.0.0.2"). */
    static ProxyClient open(String source, int proxyPort) throws IOException {
        Socket socket = new Socket();
        try {
            socket.setReuseAddress(true);
            socket.bind(new InetSocketAddress(InetAddress.getByName(source), 0));
            socket.connect(new InetSocketAddress("127.0.0.1", proxyPort), 5000);
            socket.setSoTimeout(20_000);
            socket.setTcpNoDelay(true);
            return new ProxyClient(socket);
        } catch (IOException e) {
            socket.close();
            throw e;
        }
    }

    int localPort() {
        return socket.getLocalPort();
    }

    /** GET of an absolute URL, as a client configured with this proxy sends it. */
    Response get(String url) throws IOException {
        URI uri = URI.create(url);
        String host = uri.getPort() < 0 ? uri.getHost() : uri.getHost() + ":" + uri.getPort();
        return send("GET " + url + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: egressd-e2e\r\n\r\n", false);
    }

    /** CONNECT {@code authority}; on 200 this connection is then a tunnel to it. */
    Response connect(String authority) throws IOException {
        return send("CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n\r\n", true);
    }

    private Response send(String request, boolean connect) throws IOException {
        out.write(request.getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        String head = readHead();
        if (head == null) {
            throw new IOException("the proxy closed the connection without a response");
        }
        String[] lines = head.split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
                        lines[i].substring(colon + 1).trim());
            }
        }
        int length = connect && status == 200 || !headers.containsKey("content-length") ? 0
                : Integer.parseInt(headers.get("content-length"));
        return new Response(status, headers, new String(in.readNBytes(length), StandardCharsets.UTF_8));
    }

    private String readHead() throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream(256);
        int matched = 0;
        int b;
        while ((b = in.read()) >= 0) {
            head.write(b);
            boolean next = b == '\r' ? matched % 2 == 0 : b == '\n' && matched % 2 == 1;
            matched = next ? matched + 1 : (b == '\r' ? 1 : 0);
            if (matched == 4) {
                return head.toString(StandardCharsets.ISO_8859_1);
            }
        }
        return head.size() == 0 ? null : head.toString(StandardCharsets.ISO_8859_1);
    }

    /** Through an open tunnel to an echo server: sends {@code data} and reads as many bytes back. */
    byte[] echo(byte[] data) throws IOException {
        out.write(data);
        out.flush();
        return in.readNBytes(data.length);
    }

    /** Whether the proxy has closed this connection (end of stream within {@code millis}). */
    boolean closedByPeer(int millis) throws IOException {
        int saved = socket.getSoTimeout();
        socket.setSoTimeout(millis);
        try {
            return in.read() < 0;
        } catch (SocketTimeoutException e) {
            return false;
        } catch (IOException e) {
            return true; // reset
        } finally {
            socket.setSoTimeout(saved);
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
