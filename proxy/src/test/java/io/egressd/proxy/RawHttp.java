package io.egressd.proxy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Speaks HTTP to the proxy byte by byte, for requests real clients will not send as written
 * (alternative IPv4 spellings, CONNECT without a port, origin-form, mismatched Host).
 */
final class RawHttp {

    record Response(int status, Map<String, List<String>> headers, String body, boolean closed) {
        String header(String name) {
            List<String> values = headers.get(name.toLowerCase(Locale.ROOT));
            return values == null ? null : values.get(0);
        }
    }

    private RawHttp() {
    }

    static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    /** Sends {@code request} (CRLF line ends, blank line included) and reads one response. */
    static Response send(InetSocketAddress proxy, String request) throws IOException {
        try (Socket socket = new Socket()) {
            socket.connect(proxy, 5000);
            socket.setSoTimeout(15_000);
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            return read(socket, true);
        }
    }

    /**
     * Reads one response: status, headers, a Content-Length body; with {@code checkClosed}, and
     * when the response says {@code Connection: close}, whether the proxy really closed after it.
     */
    static Response read(Socket socket, boolean checkClosed) throws IOException {
        InputStream in = socket.getInputStream();
        String head = CountingHttpServer.readHead(in);
        if (head == null) {
            throw new IOException("connection closed without a response");
        }
        String[] lines = head.split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, List<String>> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            if (colon > 0) {
                headers.computeIfAbsent(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT),
                        k -> new ArrayList<>()).add(lines[i].substring(colon + 1).trim());
            }
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        if (headers.getOrDefault("transfer-encoding", List.of()).contains("chunked")) {
            for (int size = chunkSize(in); size > 0; size = chunkSize(in)) {
                copy(in, body, size);
                readLine(in);
            }
            readLine(in); // the blank line after the last chunk (no trailers here)
        } else {
            int length = headers.containsKey("content-length")
                    ? Integer.parseInt(headers.get("content-length").get(0)) : 0;
            copy(in, body, length);
        }
        boolean closed = false;
        List<String> connection = headers.getOrDefault("connection", List.of());
        if (checkClosed && connection.stream().anyMatch(v -> v.equalsIgnoreCase("close"))) {
            int saved = socket.getSoTimeout();
            socket.setSoTimeout(2000);
            try {
                closed = in.read() < 0;
            } catch (SocketTimeoutException e) {
                closed = false;
            } catch (IOException e) {
                closed = true; // reset
            }
            socket.setSoTimeout(saved);
        }
        return new Response(status, headers, body.toString(StandardCharsets.UTF_8), closed);
    }

    private static int chunkSize(InputStream in) throws IOException {
        String line = readLine(in);
        int semicolon = line.indexOf(';');
        return Integer.parseInt((semicolon < 0 ? line : line.substring(0, semicolon)).trim(), 16);
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        int b;
        while ((b = in.read()) >= 0 && b != '\n') {
            if (b != '\r') {
                line.append((char) b);
            }
        }
        return line.toString();
    }

    private static void copy(InputStream in, ByteArrayOutputStream to, int length) throws IOException {
        for (int i = 0; i < length; i++) {
            int b = in.read();
            if (b < 0) {
                return;
            }
            to.write(b);
        }
    }

    /** Opens a CONNECT tunnel through the proxy; the returned socket carries the destination's bytes. */
    static Socket tunnel(InetSocketAddress proxy, String authority, String proxyAuthorization) throws IOException {
        Socket socket = new Socket();
        try {
            socket.connect(proxy, 5000);
            socket.setSoTimeout(20_000);
            String request = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n"
                    + (proxyAuthorization == null ? "" : "Proxy-Authorization: " + proxyAuthorization + "\r\n")
                    + "\r\n";
            socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
            Response response = read(socket, false);
            if (response.status() != 200) {
                throw new IOException("CONNECT " + authority + " answered " + response.status() + ": "
                        + response.body());
            }
            return socket;
        } catch (IOException | RuntimeException e) {
            socket.close();
            throw e;
        }
    }
}
