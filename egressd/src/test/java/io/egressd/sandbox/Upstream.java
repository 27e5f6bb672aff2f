package io.egressd.sandbox;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * The "internet" of the sandbox test, run by {@link SandboxIT} inside the {@code internet}
 * network namespace: an HTTP server on port 80, an HTTPS server on port 443 and an
 * authoritative DNS server on UDP port 53, all on one address. Every DNS question and every
 * HTTP request it receives is printed on stdout as one line, so the test can tell what reached
 * the upstream side and what never did:
 *
 * <pre>
 * dns &lt;qname&gt; &lt;qtype&gt; from &lt;client&gt;
 * http GET &lt;host&gt; &lt;path&gt; from &lt;client&gt;
 * https GET &lt;host&gt; &lt;path&gt; from &lt;client&gt;
 * </pre>
 *
 * <p>Arguments: {@code ADDRESS KEYSTORE(PKCS12) PASSWORD NAME=IPV4...}. Names in the zone get
 * their A record (and an empty AAAA answer); every other name is NXDOMAIN.
 */
public final class Upstream {

    private Upstream() {
    }

    public static void main(String[] args) throws Exception {
        InetAddress address = InetAddress.getByName(args[0]);
        Path keystore = Path.of(args[1]);
        char[] password = args[2].toCharArray();
        Map<Name, InetAddress> zone = new HashMap<>();
        for (String entry : Arrays.copyOfRange(args, 3, args.length)) {
            String[] kv = entry.split("=", 2);
            zone.put(Name.fromString(kv[0].toLowerCase(Locale.ROOT) + "."), InetAddress.getByName(kv[1]));
        }

        HttpServer http = HttpServer.create(new InetSocketAddress(address, 80), 16);
        http.createContext("/", exchange -> answer(exchange, "http"));
        http.start();

        KeyStore ks = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(keystore)) {
            ks.load(in, password);
        }
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, password);
        SSLContext tls = SSLContext.getInstance("TLS");
        tls.init(kmf.getKeyManagers(), null, null);
        HttpsServer https = HttpsServer.create(new InetSocketAddress(address, 443), 16);
        https.setHttpsConfigurator(new HttpsConfigurator(tls));
        https.createContext("/", exchange -> answer(exchange, "https"));
        https.start();

        DatagramSocket dns = new DatagramSocket(new InetSocketAddress(address, 53));
        Thread dnsThread = new Thread(() -> serveDns(dns, zone), "upstream-dns");
        dnsThread.setDaemon(true);
        dnsThread.start();

        log("upstream ready on " + address.getHostAddress());
        // Runs until the test destroys the process.
        Thread.currentThread().join();
    }

    private static synchronized void log(String line) {
        System.out.println(line);
        System.out.flush();
    }

    private static void answer(HttpExchange exchange, String scheme) throws IOException {
        String host = exchange.getRequestHeaders().getFirst("Host");
        log(scheme + " " + exchange.getRequestMethod() + " " + host + " " + exchange.getRequestURI().getPath()
                + " from " + exchange.getRemoteAddress().getAddress().getHostAddress());
        exchange.getRequestBody().readAllBytes();
        byte[] body = ("hello from upstream over " + scheme + "\n").getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "text/plain");
        exchange.sendResponseHeaders(200, body.length);
        exchange.getResponseBody().write(body);
        exchange.close();
    }

    private static void serveDns(DatagramSocket socket, Map<Name, InetAddress> zone) {
        byte[] buffer = new byte[4096];
        while (!socket.isClosed()) {
            try {
                DatagramPacket packet = new DatagramPacket(buffer, buffer.length);
                socket.receive(packet);
                Message query = new Message(Arrays.copyOf(packet.getData(), packet.getLength()));
                Record question = query.getQuestion();
                if (question == null) {
                    continue;
                }
                Name qname = Name.fromString(question.getName().toString().toLowerCase(Locale.ROOT));
                log("dns " + qname.toString(true) + " " + Type.string(question.getType()) + " from "
                        + packet.getAddress().getHostAddress());
                Message reply = new Message(query.getHeader().getID());
                reply.getHeader().setFlag(Flags.QR);
                reply.getHeader().setFlag(Flags.AA);
                if (query.getHeader().getFlag(Flags.RD)) {
                    reply.getHeader().setFlag(Flags.RD);
                }
                reply.getHeader().setFlag(Flags.RA);
                reply.addRecord(question, Section.QUESTION);
                InetAddress a = zone.get(qname);
                if (a == null) {
                    reply.getHeader().setRcode(Rcode.NXDOMAIN);
                } else if (question.getType() == Type.A) {
                    reply.addRecord(new ARecord(question.getName(), DClass.IN, 60, a), Section.ANSWER);
                }
                byte[] wire = reply.toWire();
                socket.send(new DatagramPacket(wire, wire.length, packet.getSocketAddress()));
            } catch (IOException | RuntimeException e) {
                if (!socket.isClosed()) {
                    log("dns error " + e);
                }
            }
        }
    }
}
