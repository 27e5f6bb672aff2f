package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.egressd.policy.AllowlistLoader;
import io.egressd.policy.Decision;
import io.egressd.policy.GlobalDeny;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real PostgreSQL server behind egressd, reached the two ways a database client can that
 * knows no HTTP proxy: {@code psql} through a TCP forward declared in the allowlist, and
 * pgjdbc through SOCKS5 with username/password. The database's address is loopback here, so
 * the allowlist opens it with a cidr rule for its port, as a real one would for a local database.
 */
class PostgresThroughEgressTest {

    @TempDir
    static Path dir;

    static Postgres pg;
    static Policy policy;
    static final RecordingListener listener = new RecordingListener();
    static final LoopbackResolver resolver = new LoopbackResolver().answer("db.test", "127.0.0.1");
    static TcpForwards forwards;
    static SocksProxy socks;

    @BeforeAll
    static void start() throws Exception {
        pg = Postgres.start();
        int forward = TcpForwardsTest.freePort();
        Path lists = Files.createDirectories(dir.resolve("allowlists"));
        Files.writeString(lists.resolve("postgres.yaml"), """
                server: postgres
                clients:
                  proxy_user: pg
                  token_sha256: %s
                allow:
                  - host: db.test
                    ports: [%d]
                  - cidr: 127.0.0.1/32
                    ports: [%d]
                forwards:
                  - {listen: "127.0.0.1:%d", to: "db.test:%d"}
                """.formatted(Allowlist.sha256("pg-token"), pg.port, pg.port, forward, pg.port));
        policy = AllowlistLoader.load(lists, GlobalDeny.BUILT_IN);
        forwards = TcpForwards.start(policy.forwards(), SocksProxyTest.settings(), () -> policy, listener, resolver,
                new TestNetwork());
        socks = SocksProxy.start(SocksProxyTest.settings(), () -> policy, listener, resolver, null,
                new TestNetwork());
    }

    @AfterAll
    static void stop() {
        try {
            if (forwards != null) {
                forwards.close();
            }
            if (socks != null) {
                socks.close();
            }
        } finally {
            if (pg != null) {
                pg.close();
            }
        }
    }

    @BeforeEach
    void clear() {
        listener.clear();
    }

    @Test
    void psqlSelectsOneThroughTheTcpForward() throws Exception {
        int port = forwards.addresses().get(0).getPort();
        assertThat(pg.psql("127.0.0.1", port, "select 1")).isEqualTo("1");

        assertThat(listener.decided).isNotEmpty();
        RecordingListener.Decided d = listener.decided.get(0);
        assertThat(d.protocol()).isEqualTo(Protocol.TCP);
        assertThat(d.decision().allowed()).isTrue();
        assertThat(d.decision().server()).isEqualTo("postgres");
        assertThat(d.decision().host()).isEqualTo("db.test");
        assertThat(d.decision().address()).isEqualTo(InetAddress.getByName("127.0.0.1"));
        await().atMost(Duration.ofSeconds(5)).until(() -> !listener.closed.isEmpty());
        assertThat(listener.closed.get(0).bytesSent()).isPositive();
        assertThat(listener.closed.get(0).bytesReceived()).isPositive();
    }

    @Test
    void pgjdbcSelectsOneThroughSocks5WithCredentials() throws Exception {
        String url = "jdbc:postgresql://db.test:" + pg.port + "/postgres?user=postgres&sslmode=disable"
                + "&connectTimeout=10";
        Result r = jdbc(url, "pg-token");
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("result=1");

        Decision d = listener.decided.stream().filter(x -> x.protocol() == Protocol.SOCKS5).findFirst()
                .orElseThrow().decision();
        assertThat(d.allowed()).isTrue();
        assertThat(d.server()).isEqualTo("postgres");
        // pgjdbc left the name to the proxy: egressd resolved db.test itself and dialed the vetted address.
        assertThat(d.host()).isEqualTo("db.test");
        assertThat(d.address()).isEqualTo(InetAddress.getByName("127.0.0.1"));
    }

    @Test
    void pgjdbcWithAWrongTokenNeverReachesTheDatabase() throws Exception {
        String url = "jdbc:postgresql://db.test:" + pg.port + "/postgres?user=postgres&sslmode=disable"
                + "&connectTimeout=10";
        Result r = jdbc(url, "wrong");
        assertThat(r.exit()).isNotZero();
        assertThat(r.output()).doesNotContain("result=");
        assertThat(listener.decided).singleElement().satisfies(x -> {
            assertThat(x.protocol()).isEqualTo(Protocol.SOCKS5);
            assertThat(x.decision().reason()).isEqualTo(io.egressd.policy.Reason.BAD_CREDENTIALS);
        });
    }

    private record Result(int exit, String output) { }

    /** pgjdbc in a JVM of its own: socksProxyHost and socksProxyPort are global to a JVM. */
    private static Result jdbc(String url, String token) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        ProcessBuilder pb = new ProcessBuilder(List.of(java, "-cp", classpath,
                "-DsocksProxyHost=127.0.0.1", "-DsocksProxyPort=" + socks.boundAddress().getPort(),
                "-Degressd.socks.user=pg", "-Degressd.socks.password=" + token,
                PgOverSocks.class.getName(), url, "select 1"));
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("the JDBC client did not finish:\n" + out);
        }
        return new Result(p.exitValue(), out);
    }
}
