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
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code curl --socks5-hostname user:password@...}, as an MCP server's tools would run it:
 * an allowed name reaches its upstream; a denied name and a denied IP address fail with
 * reply 0x02, "connection not allowed by ruleset" (curl 7.88 prints the code, {@code (2)}),
 * and the upstream behind them never sees a connection.
 */
class SocksCurlTest {

    @TempDir
    static Path dir;

    static CountingHttpServer allowed;
    static CountingHttpServer forbidden;
    static RecordingListener listener = new RecordingListener();
    static LoopbackResolver resolver;
    static SocksProxy socks;

    @BeforeAll
    static void start() throws Exception {
        allowed = new CountingHttpServer("127.0.0.1", 0, "api");
        forbidden = new CountingHttpServer("127.0.0.2", 0, "evil");
        Policy policy = Allowlist.load(dir, Allowlist.server("app").credentials("app", "app-token")
                .host("api.test", allowed.port()).cidr("127.0.0.1/32", allowed.port()));
        resolver = new LoopbackResolver().answer("api.test", "127.0.0.1").answer("evil.test", "127.0.0.2");
        socks = SocksProxy.start(SocksProxyTest.settings(), () -> policy, listener, resolver, null,
                new TestNetwork());
    }

    @AfterAll
    static void stop() {
        socks.close();
        allowed.close();
        forbidden.close();
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
        pb.environment().keySet().removeIf(k -> k.toLowerCase(java.util.Locale.ROOT).endsWith("_proxy"));
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
        assertThat(forbidden.accepts()).isZero();
        assertThat(resolver.calls("evil.test")).isZero();
        assertThat(onlyDecision().reason()).isEqualTo(Reason.HOST_NOT_ALLOWED);
    }

    @Test
    void aDeniedIpAddressFailsTheSameWayAndIsNeverConnected() throws Exception {
        Result r = curl("http://127.0.0.2:" + forbidden.port() + "/exfiltrate");
        assertThat(r.exit()).isEqualTo(97);
        assertThat(r.stderr()).containsPattern("(?i)complete SOCKS5 connection to 127\\.0\\.0\\.2\\. \\(2\\)");
        assertThat(forbidden.accepts()).isZero();
        Decision d = onlyDecision();
        assertThat(d.reason()).isEqualTo(Reason.IP_LITERAL_NOT_ALLOWED);
        assertThat(d.host()).isEqualTo("127.0.0.2");
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
