package io.egressd.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.egressd.metrics.EgressMetrics;
import io.egressd.metrics.PrometheusMetrics;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** /metrics, /healthz and /readyz on a loopback admin listener. */
class AdminServerTest {

    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    final PrometheusMetrics prometheus = new PrometheusMetrics();
    final ReadinessFlags readiness = new ReadinessFlags("policy", "http", "dns");
    AdminServer admin;

    @BeforeEach
    void start() throws IOException {
        new EgressMetrics(prometheus.registry(), Clock.systemUTC()).bindReadiness(readiness::ready);
        admin = AdminServer.start(new InetSocketAddress("127.0.0.1", 0), prometheus::scrape, readiness);
    }

    @AfterEach
    void stop() {
        admin.close();
        prometheus.close();
    }

    HttpResponse<String> send(String method, String path) throws Exception {
        URI uri = URI.create("http://127.0.0.1:" + admin.address().getPort() + path);
        return http.send(HttpRequest.newBuilder(uri).method(method, HttpRequest.BodyPublishers.noBody())
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void bindsWhereToldOnLoopback() {
        assertThat(admin.address().getAddress().isLoopbackAddress()).isTrue();
        assertThat(admin.address().getPort()).isPositive();
    }

    @Test
    void metricsServesThePrometheusTextFormat() throws Exception {
        HttpResponse<String> r = send("GET", "/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("text/plain; version=0.0.4; charset=utf-8");
        assertThat(r.body()).contains("# TYPE egressd_audit_events_total counter", "egressd_ready 0.0",
                "jvm_memory_used_bytes");
    }

    @Test
    void healthzIsOkWhileTheProcessRunsEvenWhenNotReady() throws Exception {
        HttpResponse<String> r = send("GET", "/healthz");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("ok\n");
    }

    @Test
    void readyzIs503UntilEveryConditionIsMetThen200() throws Exception {
        HttpResponse<String> r = send("GET", "/readyz");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("not ready: waiting for policy, http, dns\n");

        readiness.met("policy");
        readiness.met("http");
        r = send("GET", "/readyz");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.body()).isEqualTo("not ready: waiting for dns\n");

        readiness.met("dns");
        r = send("GET", "/readyz");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("ready\n");
        assertThat(send("GET", "/metrics").body()).contains("egressd_ready 1.0");

        readiness.unmet("dns");
        assertThat(send("GET", "/readyz").statusCode()).isEqualTo(503);
    }

    @Test
    void headAnswersWithoutABody() throws Exception {
        HttpResponse<String> r = send("HEAD", "/healthz");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).isEmpty();
    }

    @Test
    void otherPathsAndMethodsAreRefused() throws Exception {
        assertThat(send("GET", "/").statusCode()).isEqualTo(404);
        assertThat(send("GET", "/metricsx").statusCode()).isEqualTo(404);
        HttpResponse<String> post = send("POST", "/metrics");
        assertThat(post.statusCode()).isEqualTo(405);
        assertThat(post.headers().firstValue("Allow")).hasValue("GET, HEAD");
    }

    @Test
    void unknownReadinessConditionsAreAProgrammingError() {
        assertThatThrownBy(() -> readiness.met("socks")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aTakenAddressFailsToStart() {
        assertThatThrownBy(() -> AdminServer.start(admin.address(), prometheus::scrape, readiness))
                .isInstanceOf(BindException.class);
    }
}
