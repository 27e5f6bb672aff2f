package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.egressd.policy.ConnectionCount;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Host;
import io.egressd.policy.InvalidHostException;
import io.egressd.policy.Policy;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzzes the HTTP proxy's request path: {@link StrictRequestDecoder} (LittleProxy's decoder as
 * egressd replaces it) and the {@link EgressGate} with its {@link RequestDecider}, in an
 * {@link EmbeddedChannel} pipeline laid out as {@link GateInstallingGroup} lays out LittleProxy's.
 * Where LittleProxy's handler would be, a recorder takes what the gate lets through. The client's
 * bytes arrive in chunks of a fuzzed size. Properties, for any bytes:
 * <ul>
 *   <li>no exception escapes the pipeline;</li>
 *   <li>a request is passed on (towards the upstream) only when an independent, simple reading of
 *       the bytes finds a well-formed first request head (strict syntax, HTTP/1.0 or 1.1, no Content-Length and
 *       Transfer-Encoding together, no second Content-Length, a Host header that agrees with an
 *       absolute URI) whose destination the allowlist allows; then it is that one request, to
 *       that destination's vetted address and port;</li>
 *   <li>a complete first head that is malformed gets 400, or the connection is closed unanswered.</li>
 * </ul>
 *
 * <p>First input byte: bits 0-6 the chunk size (0 = all at once). The rest is what the client sends.
 */
class HttpRequestFuzzTest {

    private static final InetAddress API = FuzzInputs.v4(93, 184, 215, 60);
    private static final AtomicLong RUNS = new AtomicLong();
    /** Inputs whose request was passed on: the seeds have some, so the property is not vacuous. */
    private static final AtomicLong FORWARDED = new AtomicLong();
    /** Inputs with a complete malformed head: likewise. */
    private static final AtomicLong MALFORMED = new AtomicLong();
    private static final Pattern REQUEST_LINE =
            Pattern.compile("([A-Z-]+) ([^\\x00-\\x20\\x7f#]+) HTTP/1\\.[01]");

    private static Path root;
    private static Policy policy;
    private static GateConfig config;

    @BeforeAll
    static void policy() throws IOException {
        root = Files.createTempDirectory("http-fuzz");
        policy = Allowlist.load(root, Allowlist.server("app").host("api.example.com", 80, 443)
                .cidr("203.0.113.0/24", 80));
        AsyncNameResolver resolver = name -> name.equals("api.example.com")
                ? CompletableFuture.completedFuture(List.of(API))
                : CompletableFuture.failedFuture(new UnknownHostException(name));
        Duration timeout = Duration.ofSeconds(5);
        // Sidecar: every client is "app", so any destination it names is decided by app's allowlist.
        config = new GateConfig(new RequestDecider(() -> policy, "app", resolver, timeout, a -> true),
                new GuardedListener(EgressListener.NONE), timeout, new ConnectionCount(1_000_000, 1_000_000),
                Duration.ofSeconds(10), new ServerLimits(1_000_000, 0, System::nanoTime),
                (client, address, timeoutMillis) -> {
                    // The gate dials an allowed CONNECT itself: recorded, never connected (no real loop here).
                    STAND_IN.get().passedOn("CONNECT", address);
                    return new EmbeddedChannel().newPromise();
                });
    }

    /** The current run's stand-in, for the tunnel dialer the shared config calls. */
    private static final ThreadLocal<Upstream> STAND_IN = new ThreadLocal<>();

    /**
     * Where LittleProxy's handler would be: keeps the method of each request the gate passes on,
     * with where it would dial; also each CONNECT the gate dials itself.
     */
    private static final class Upstream extends ChannelInboundHandlerAdapter {
        final List<String> requests = new ArrayList<>();
        final List<InetSocketAddress> dials = new ArrayList<>();

        void passedOn(String method, InetSocketAddress dial) {
            requests.add(method);
            dials.add(dial);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof HttpRequest request) {
                Exchange exchange = ctx.channel().attr(Exchange.NEXT).get();
                passedOn(request.method().name(), exchange == null ? null : exchange.dial);
            }
            ReferenceCountUtil.release(msg);
        }
    }

    @FuzzTest(maxDuration = "2m")
    void head(byte[] input) {
        RUNS.incrementAndGet();
        if (input.length == 0) {
            return;
        }
        int chunk = input[0] & 0x7f;
        byte[] client = Arrays.copyOfRange(input, 1, input.length);

        EmbeddedChannel channel = new LoopbackEmbeddedChannel();
        EgressGate gate = new EgressGate(config);
        Upstream upstream = new Upstream();
        STAND_IN.set(upstream);
        channel.pipeline().addLast(GateInstallingGroup.HEAD_WATCH, gate.headWatch());
        channel.pipeline().addLast(StrictRequestDecoder.NAME, new StrictRequestDecoder());
        channel.pipeline().addLast(GateInstallingGroup.GATE, gate);
        channel.pipeline().addLast(GateInstallingGroup.LITTLEPROXY_HANDLER, upstream);
        List<Integer> statuses = new ArrayList<>();
        try {
            int step = chunk == 0 ? Math.max(1, client.length) : chunk;
            for (int i = 0; i < client.length && channel.isOpen(); i += step) {
                byte[] part = Arrays.copyOfRange(client, i, Math.min(client.length, i + step));
                channel.writeInbound(Unpooled.wrappedBuffer(part)); // throws what reached the pipeline's end
                channel.runPendingTasks();
            }
            channel.checkException();
            Object out;
            while ((out = channel.readOutbound()) != null) {
                if (out instanceof HttpResponse response) {
                    statuses.add(response.status().code());
                }
                ReferenceCountUtil.release(out);
            }
        } finally {
            channel.finishAndReleaseAll();
        }

        List<Reading> heads = Reading.all(client);
        Reading reading = heads.get(0);
        if (!upstream.requests.isEmpty()) {
            FORWARDED.incrementAndGet();
            // The stand-in never answers, so the gate passes on one request at most: the first allowed
            // head, after refused ones on a kept-alive connection (their bodies skipped).
            Reading passed = heads.get(heads.size() - 1);
            assertThat(passed.problem).as("bytes %s were passed on, so a head up to which all are well formed,"
                    + " and it allowed, is there: %s", FuzzInputs.hex(client), heads).isNull();
            assertThat(upstream.requests).as("requests passed on for %s", FuzzInputs.hex(client)).hasSize(1);
            assertThat(upstream.requests.get(0)).isEqualTo(passed.method);
            assertThat(upstream.dials).as("addresses dialed for %s", FuzzInputs.hex(client))
                    .containsExactly(passed.dial);
        }
        if (reading.malformed) {
            MALFORMED.incrementAndGet();
            assertThat(statuses.isEmpty() ? 400 : statuses.get(0))
                    .as("first answer to malformed %s", FuzzInputs.hex(client)).isEqualTo(400);
        }
    }

    /**
     * An independent reading of one request head in the client's bytes: whether it is malformed,
     * and, when it is a well-formed request the allowlist allows, where it may go.
     */
    private static final class Reading {
        /** Null when a correct proxy may pass this request on; else why not. */
        String problem;
        /** A complete head that breaks the syntax: it must get 400 or a close. */
        boolean malformed;
        String method;
        InetSocketAddress dial;
        /** Where the next head may start, or -1 when a refusal ends the connection or the bytes cannot be followed. */
        int next = -1;

        /**
         * The heads up to and including the first one a proxy may pass on, or the first after which
         * it may not read on: after a well-formed refused head, a kept-alive connection reads the
         * next one (a refused CONNECT, a malformed head or {@code Connection: close} ends it).
         */
        static List<Reading> all(byte[] bytes) {
            String text = new String(bytes, StandardCharsets.ISO_8859_1);
            List<Reading> heads = new ArrayList<>();
            int at = 0;
            while (true) {
                Reading r = new Reading();
                r.problem = r.read(text, at);
                heads.add(r);
                if (r.problem == null || r.next < 0) {
                    return heads;
                }
                at = r.next;
            }
        }

        @Override
        public String toString() {
            return method + " " + dial + ": " + problem;
        }

        private String read(String text, int start) {
            while (start < text.length() && (text.charAt(start) == '\r' || text.charAt(start) == '\n')) {
                start++;
            }
            int end = text.indexOf("\r\n\r\n", start);
            if (end < 0) {
                // Incomplete: nothing may go on (a bare LF before it would be malformed, but is not complete).
                return "no complete head";
            }
            String head = text.substring(start, end + 2);
            String[] lines = head.split("\r\n", -1);
            List<String> fields = new ArrayList<>();
            for (int i = 0; i < lines.length - 1; i++) {
                String line = lines[i];
                if (line.indexOf('\n') >= 0) {
                    return malformed("bare LF");
                }
                if (i == 0) {
                    continue;
                }
                if (line.startsWith(" ") || line.startsWith("\t")) {
                    return malformed("obs-fold");
                }
                for (int k = 0; k < line.length(); k++) {
                    char c = line.charAt(k);
                    if ((c < 0x20 && c != '\t') || c == 0x7f) {
                        return malformed("control character in a field");
                    }
                }
                fields.add(line);
            }
            var requestLine = REQUEST_LINE.matcher(lines[0]);
            if (!requestLine.matches()) {
                return malformed("request line");
            }
            if (fields.size() > StrictRequestDecoder.MAX_HEADERS) {
                return malformed("too many fields");
            }
            method = requestLine.group(1);
            String target = requestLine.group(2);
            List<String> hosts = new ArrayList<>();
            int lengths = 0;
            int length = 0;
            boolean chunked = false;
            boolean close = false;
            boolean keepAlive = false;
            for (String field : fields) {
                int colon = field.indexOf(':');
                if (colon <= 0) {
                    return "field without a name";
                }
                String name = field.substring(0, colon).toLowerCase(Locale.ROOT);
                String value = field.substring(colon + 1).strip();
                switch (name) {
                    case "host" -> hosts.add(value);
                    case "content-length" -> {
                        lengths++;
                        length = value.matches("[0-9]{1,6}") ? Integer.parseInt(value) : -1;
                    }
                    case "transfer-encoding" -> chunked = true;
                    case "connection" -> {
                        close |= value.toLowerCase(Locale.ROOT).contains("close");
                        keepAlive |= value.toLowerCase(Locale.ROOT).contains("keep-alive");
                    }
                    default -> { }
                }
            }
            if (lengths > 1 || lengths == 1 && chunked) {
                return "smuggling shape: two lengths";
            }
            boolean http10 = lines[0].endsWith("1.0");
            // If refused, a kept-alive connection goes on after the body (followed only when it has a plain length).
            if (!method.equals("CONNECT") && !close && (!http10 || keepAlive) && !chunked && length >= 0) {
                next = end + 4 + length;
            }
            if (method.equals("CONNECT")) {
                return destination(target, true);
            }
            if (!target.regionMatches(true, 0, "http://", 0, 7)) {
                return "not an absolute http:// URI";
            }
            String rest = target.substring(7);
            int cut = rest.length();
            for (char c : new char[] {'/', '?'}) {
                int at = rest.indexOf(c);
                if (at >= 0 && at < cut) {
                    cut = at;
                }
            }
            String problem = destination(rest.substring(0, cut), false);
            if (problem != null) {
                return problem;
            }
            if (hosts.size() > 1) {
                return "two Host fields";
            }
            if (hosts.size() == 1) {
                InetSocketAddress uri = dial;
                String header = destination(hosts.get(0), false);
                if (header != null || !dial.equals(uri)) {
                    return "Host field does not agree with the URI";
                }
            }
            return null;
        }

        private String malformed(String why) {
            malformed = true;
            return why;
        }

        /** Sets {@link #dial} when {@code authority} is a destination app's allowlist allows. */
        private String destination(String authority, boolean connect) {
            for (int i = 0; i < authority.length(); i++) {
                if (authority.charAt(i) > 0x7f) {
                    return "non-ASCII authority";
                }
            }
            String host = authority;
            int port = connect ? -1 : 80;
            int colon = authority.lastIndexOf(':');
            if (colon >= 0 && colon > authority.lastIndexOf(']')) {
                host = authority.substring(0, colon);
                String digits = authority.substring(colon + 1);
                if (!digits.matches("[0-9]{1,5}") || Integer.parseInt(digits) < 1 || Integer.parseInt(digits) > 65535) {
                    return "bad port";
                }
                port = Integer.parseInt(digits);
            }
            if (port < 0 || host.isEmpty() || !host.startsWith("[") && host.indexOf(':') >= 0) {
                return "no port, no host, or an unbracketed IPv6 address";
            }
            try {
                Host parsed = Host.parse(host);
                if (parsed instanceof Host.Name name) {
                    if (!name.value().equals("api.example.com") || port != 80 && port != 443) {
                        return "not allowed";
                    }
                    dial = new InetSocketAddress(API, port);
                    return null;
                }
                byte[] ip = ((Host.Ip) parsed).address().getAddress();
                // 203.0.113.0/24, as itself or carried in an IPv6 address the policy unwraps.
                byte[] v4 = Arrays.copyOfRange(ip, ip.length - 4, ip.length);
                if ((v4[0] & 0xff) != 203 || v4[1] != 0 || (v4[2] & 0xff) != 113 || port != 80) {
                    return "not allowed";
                }
                dial = new InetSocketAddress(InetAddress.getByAddress(v4), port);
                return null;
            } catch (InvalidHostException | UnknownHostException e) {
                return "invalid host";
            }
        }
    }

    @AfterAll
    static void ranTheCorpus() {
        FuzzInputs.delete(root);
        FuzzInputs.assertCorpusRan(HttpRequestFuzzTest.class, "head", RUNS.get());
        assertThat(FORWARDED.get()).as("inputs passed on towards the upstream").isGreaterThanOrEqualTo(3);
        assertThat(MALFORMED.get()).as("inputs with a complete malformed head").isGreaterThanOrEqualTo(3);
    }
}
