package io.egressd.proxy;

import io.egressd.policy.Policy;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.http.HttpClient;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * A proxy on 127.0.0.1 with a swappable policy, a loopback-only resolver and a recording
 * listener. Every address it dials must be loopback: the test build checks that on top of
 * the policy, so a bug cannot send traffic off this machine.
 */
final class ProxyFixture implements AutoCloseable {

    final AtomicReference<Policy> policy;
    final LoopbackResolver resolver;
    final RecordingListener listener = new RecordingListener();
    /** Every address the proxy vetted to dial (allowed decisions only), in order. */
    final List<InetAddress> dialChecks = new CopyOnWriteArrayList<>();
    final EgressProxy proxy;

    ProxyFixture(Policy initial, LoopbackResolver resolver, ProxySettings settings) {
        this(initial, (AsyncNameResolver) resolver, settings);
    }

    /** With another resolver (then {@link #resolver} is null); it too must answer loopback only. */
    ProxyFixture(Policy initial, AsyncNameResolver resolver, ProxySettings settings) {
        this.policy = new AtomicReference<>(initial);
        this.resolver = resolver instanceof LoopbackResolver loopback ? loopback : null;
        this.proxy = EgressProxy.start(settings, policy::get, listener, resolver, address -> {
            dialChecks.add(address);
            return address.isLoopbackAddress();
        });
    }

    ProxyFixture(Policy initial, LoopbackResolver resolver) {
        this(initial, resolver, settings());
    }

    static ProxySettings settings() {
        return ProxySettings.defaults(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .withConnectTimeout(Duration.ofSeconds(2))
                .withIdleTimeout(Duration.ofSeconds(30))
                .withThreads(1, 2, 2);
    }

    InetSocketAddress address() {
        return proxy.boundAddress();
    }

    /** {@code http://[user:password@]127.0.0.1:port} */
    String url(String user, String password) {
        String auth = user == null ? "" : user + ":" + password + "@";
        return "http://" + auth + "127.0.0.1:" + address().getPort();
    }

    HttpClient.Builder client() {
        return HttpClient.newBuilder()
                .proxy(ProxySelector.of(address()))
                .sslContext(trustAll())
                .connectTimeout(Duration.ofSeconds(5));
    }

    @Override
    public void close() {
        proxy.close();
    }

    /** Trusts WireMock's self-signed certificate; for these loopback tests only. */
    static SSLContext trustAll() {
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(null, new TrustManager[] {new X509TrustManager() {
                @Override
                public void checkClientTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public void checkServerTrusted(X509Certificate[] chain, String authType) {
                }

                @Override
                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            }}, new SecureRandom());
            return context;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
