package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.policy.Decision;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code curl --socks5-hostname user:password@...}, as an MCP server's tools would run it:
 * an allowed name and an allowed IPv6 address reach their upstream; a denied name and a denied
 * IP address fail with reply 0x02, "connection not allowed by ruleset", and the upstream behind
 * them never sees a connection. The curl tool (7.88) prints only the code, {@code (2)}, and has
 * no {@code %{proxy_error}} write-out variable; the libcurl it runs on names the reply through
 * {@code CURLINFO_PROXY_ERROR} (libcurl 7.73 and later): {@code CURLPX_REPLY_NOT_ALLOWED}.
 */
class SocksCurlTest {

    @TempDir
    static Path dir;

    static CountingHttpServer allowed;
    static CountingHttpServer forbidden;
    static CountingHttpServer v6;
    static RecordingListener listener = new RecordingListener();
    static LoopbackResolver resolver;
    static SocksProxy socks;

    @BeforeAll
    static void start() throws Exception {
        allowed = new CountingHttpServer("127.0.0.1", 0, "api");
        forbidden = new CountingHttpServer("127.0.0.2", 0, "evil");
        v6 = new CountingHttpServer("::1", 0, "v6");
        Policy policy = Allowlist.load(dir, Allowlist.server("app").credentials("app", "app-token")
                .host("api.test", allowed.port()).cidr("127.0.0.1/32", allowed.port()).cidr("::1/128", v6.port()));
        resolver = new LoopbackResolver().answer("api.test", "127.0.0.1").answer("evil.test", "127.0.0.2");
        socks = SocksProxy.start(SocksProxyTest.settings(), () -> policy, listener, resolver, null,
                new TestNetwork());
    }

    @AfterAll
    static void stop() {
        socks.close();
        allowed.close();
        forbidden.close();
        v6.close();
    }

    @BeforeEach
    void clear() {
        listener.clear();
    }

    private record Result(int exit, String stdout, String stderr) { }

    private static Result curl(String url) throws IOException, InterruptedException {
        InetSocketAddress proxy = socks.boundAddress();
        List<String> command = new ArrayList<>(List.of("/usr/bin/curl", "-sS", "--max-time", "20",
                "--socks5-hostname", "app:app-token@127.0.0.1:" + proxy.getPort(), url));
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().keySet().removeIf(k -> k.toLowerCase(Locale.ROOT).endsWith("_proxy"));
        Path err = Files.createTempFile(dir, "curl", ".stderr");
        pb.redirectError(err.toFile());
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("curl did not finish");
        }
        return new Result(p.exitValue(), out, Files.readString(err));
    }

    /** libcurl's {@code CURLproxycode} names (curl.h), in order: CURLINFO_PROXY_ERROR is an index into them. */
    private static final List<String> CURLPX = List.of("CURLPX_OK", "CURLPX_BAD_ADDRESS_TYPE", "CURLPX_BAD_VERSION",
            "CURLPX_CLOSED", "CURLPX_GSSAPI", "CURLPX_GSSAPI_PERMSG", "CURLPX_GSSAPI_PROTECTION", "CURLPX_IDENTD",
            "CURLPX_IDENTD_DIFFER", "CURLPX_LONG_HOSTNAME", "CURLPX_LONG_PASSWD", "CURLPX_LONG_USER",
            "CURLPX_NO_AUTH", "CURLPX_RECV_ADDRESS", "CURLPX_RECV_AUTH", "CURLPX_RECV_CONNECT", "CURLPX_RECV_REQACK",
            "CURLPX_REPLY_ADDRESS_TYPE_NOT_SUPPORTED", "CURLPX_REPLY_COMMAND_NOT_SUPPORTED",
            "CURLPX_REPLY_CONNECTION_REFUSED", "CURLPX_REPLY_GENERAL_SERVER_FAILURE", "CURLPX_REPLY_HOST_UNREACHABLE",
            "CURLPX_REPLY_NETWORK_UNREACHABLE", "CURLPX_REPLY_NOT_ALLOWED", "CURLPX_REPLY_TTL_EXPIRED",
            "CURLPX_REPLY_UNASSIGNED", "CURLPX_REQUEST_FAILED", "CURLPX_RESOLVE_HOST", "CURLPX_SEND_AUTH",
            "CURLPX_SEND_CONNECT", "CURLPX_SEND_REQUEST", "CURLPX_UNKNOWN_FAIL", "CURLPX_UNKNOWN_MODE",
            "CURLPX_USER_REJECTED");

    /**
     * The same transfer through the libcurl the curl tool runs on (libcurl.so.4, through Python's ctypes),
     * as {@code CURLcode CURLproxycode}: what curl made of the SOCKS5 reply, by name.
     */
    private static String libcurl(String url) throws IOException, InterruptedException {
        String script = """
                import ctypes, sys
                curl = ctypes.CDLL("libcurl.so.4")
                curl.curl_easy_init.restype = ctypes.c_void_p
                curl.curl_easy_setopt.argtypes = [ctypes.c_void_p, ctypes.c_int]
                curl.curl_easy_perform.argtypes = [ctypes.c_void_p]
                curl.curl_easy_getinfo.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_long)]
                h = curl.curl_easy_init()
                curl.curl_easy_setopt(h, 10002, ctypes.c_char_p(sys.argv[1].encode()))  # CURLOPT_URL
                curl.curl_easy_setopt(h, 10004, ctypes.c_char_p(sys.argv[2].encode()))  # CURLOPT_PROXY
                curl.curl_easy_setopt(h, 13, ctypes.c_long(20))                          # CURLOPT_TIMEOUT
                code = curl.curl_easy_perform(h)
                px = ctypes.c_long(-1)
                curl.curl_easy_getinfo(h, 0x200000 + 59, ctypes.byref(px))              # CURLINFO_PROXY_ERROR
                print(code, px.value)
                """;
        ProcessBuilder pb = new ProcessBuilder("/usr/bin/python3", "-c", script, url,
                "socks5h://app:app-token@127.0.0.1:" + socks.boundAddress().getPort());
        pb.environment().keySet().removeIf(k -> k.toLowerCase(Locale.ROOT).endsWith("_proxy"));
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(out).as("python3 with libcurl.so.4").matches("\\d+ \\d+");
        String[] codes = out.split(" ");
        return codes[0] + " " + CURLPX.get(Integer.parseInt(codes[1]));
    }

    private static Decision onlyDecision() {
        assertThat(listener.decided).hasSize(1);
        assertThat(listener.decided.get(0).protocol()).isEqualTo(Protocol.SOCKS5);
        return listener.decided.get(0).decision();
    }

    @Test
    void anAllowedNameIsReached() throws Exception {
        int before = allowed.accepts();
        Result r = curl("http://api.test:" + allowed.port() + "/hello");
        assertThat(r.exit()).as(r.stderr()).isZero();
        assertThat(r.stdout()).isEqualTo("hello from api");
        assertThat(allowed.accepts()).isEqualTo(before + 1);
        // The name went to egressd (socks5-hostname), which resolved and pinned it.
        assertThat(allowed.requestHeads.get(allowed.requestHeads.size() - 1))
                .contains("Host: api.test:" + allowed.port());
        Decision d = onlyDecision();
        assertThat(d.allowed()).isTrue();
        assertThat(d.server()).isEqualTo("app");
        assertThat(d.address()).isEqualTo(InetAddress.getByName("127.0.0.1"));
    }

    @Test
    void aDeniedNameFailsNotAllowedByRulesetAndIsNeverConnected() throws Exception {
        Result r = curl("http://evil.test:" + forbidden.port() + "/exfiltrate");
        assertThat(r.exit()).isEqualTo(97); // CURLE_PROXY
        assertThat(r.stderr()).containsPattern("(?i)complete SOCKS5 connection to evil\\.test\\. \\(2\\)");
        assertThat(onlyDecision().reason()).isEqualTo(Reason.HOST_NOT_ALLOWED);
        // RFC 1928 reply 2, "connection not allowed by ruleset", is what curl understood.
        assertThat(libcurl("http://evil.test:" + forbidden.port() + "/exfiltrate"))
                .isEqualTo("97 CURLPX_REPLY_NOT_ALLOWED");
        assertThat(forbidden.accepts()).isZero();
        assertThat(resolver.calls("evil.test")).isZero();
    }

    @Test
    void aDeniedIpAddressFailsTheSameWayAndIsNeverConnected() throws Exception {
        Result r = curl("http://127.0.0.2:" + forbidden.port() + "/exfiltrate");
        assertThat(r.exit()).isEqualTo(97);
        assertThat(r.stderr()).containsPattern("(?i)complete SOCKS5 connection to 127\\.0\\.0\\.2\\. \\(2\\)");
        Decision d = onlyDecision();
        assertThat(d.reason()).isEqualTo(Reason.IP_LITERAL_NOT_ALLOWED);
        assertThat(d.host()).isEqualTo("127.0.0.2");
        assertThat(libcurl("http://127.0.0.2:" + forbidden.port() + "/exfiltrate"))
                .isEqualTo("97 CURLPX_REPLY_NOT_ALLOWED");
        assertThat(forbidden.accepts()).isZero();
    }

    @Test
    void anAllowedIpv6AddressIsReachedThroughItsCidrRule() throws Exception {
        int before = v6.accepts();
        Result r = curl("http://[::1]:" + v6.port() + "/six");
        assertThat(r.exit()).as(r.stderr()).isZero();
        assertThat(r.stdout()).isEqualTo("hello from v6");
        assertThat(v6.accepts()).isEqualTo(before + 1);
        Decision d = onlyDecision();
        assertThat(d.allowed()).isTrue();
        assertThat(d.host()).isEqualTo("[::1]");
        assertThat(d.address()).isEqualTo(InetAddress.getByName("::1"));
        assertThat(d.rule()).endsWith("app.yaml#allow[2]");
        assertThat(resolver.calls("[::1]") + resolver.calls("::1")).as("an address is never looked up").isZero();
    }

    @Test
    void wrongCredentialsAreRejectedBeforeAnyRequest() throws Exception {
        InetSocketAddress proxy = socks.boundAddress();
        ProcessBuilder pb = new ProcessBuilder("/usr/bin/curl", "-sS", "--max-time", "20", "--socks5-hostname",
                "app:wrong@127.0.0.1:" + proxy.getPort(), "http://api.test:" + allowed.port() + "/");
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).isEqualTo(97);
        assertThat(out).containsPattern("(?i)User was rejected by the SOCKS5 server");
        assertThat(onlyDecision().reason()).isEqualTo(Reason.BAD_CREDENTIALS);
    }
}
