package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.egressd.policy.EgressListener;
import io.egressd.policy.Policy;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A listener bound to one server (sidecar), and starting and stopping. */
class SidecarAndLifecycleTest {

    @TempDir
    Path dir;

    @Test
    void aSidecarListenerTreatsEveryClientAsItsServerAndIgnoresCredentials() throws Exception {
        try (CountingHttpServer upstream = new CountingHttpServer("127.0.0.1", 0, "upstream")) {
            Policy policy = Allowlist.load(dir, Allowlist.server("slack").cidr("127.0.0.1/32", upstream.port()));
            try (ProxyFixture sidecar = new ProxyFixture(policy, new LoopbackResolver(),
                         ProxyFixture.settings().withBoundServer("slack"));
                 ProxyFixture orphan = new ProxyFixture(policy, new LoopbackResolver(),
                         ProxyFixture.settings().withBoundServer("github"))) {
                String get = "GET http://127.0.0.1:" + upstream.port() + "/ HTTP/1.1\r\nHost: 127.0.0.1:"
                        + upstream.port() + "\r\n";

                RawHttp.Response plain = RawHttp.send(sidecar.address(), get + "\r\n");
                RawHttp.Response withStrangeCredentials = RawHttp.send(sidecar.address(),
                        get + "Proxy-Authorization: " + RawHttp.basic("nobody", "x") + "\r\n\r\n");
                RawHttp.Response unknown = RawHttp.send(orphan.address(), get + "\r\n");

                assertThat(plain.status()).isEqualTo(200);
                assertThat(withStrangeCredentials.status()).isEqualTo(200);
                assertThat(sidecar.listener.lastFor("127.0.0.1").server()).isEqualTo("slack");
                // A listener bound to a server the policy does not have refuses everything.
                assertThat(unknown.status()).isEqualTo(403);
                assertThat(unknown.header("X-Egressd-Denied")).isEqualTo("unknown_client");
                assertThat(upstream.accepts()).isEqualTo(2);
            }
        }
    }

    @Test
    void anAddressInUseIsReportedAndCloseReleasesThePort() throws Exception {
        Policy policy = Policy.empty();
        EgressProxy first = EgressProxy.start(ProxyFixture.settings(), () -> policy, EgressListener.NONE,
                new LoopbackResolver());
        ProxySettings same = ProxyFixture.settings().withThreads(1, 1, 1);
        ProxySettings taken = new ProxySettings(first.boundAddress(), null, same.connectTimeout(),
                same.idleTimeout(), same.maxConnections(), 1, 1, 1);

        assertThatThrownBy(() -> EgressProxy.start(taken, () -> policy, EgressListener.NONE, new LoopbackResolver()))
                .isInstanceOf(UncheckedIOException.class).hasMessageContaining("cannot listen on");

        first.close();
        try (EgressProxy again = EgressProxy.start(taken, () -> policy, EgressListener.NONE,
                new LoopbackResolver(), InetAddress::isLoopbackAddress);
             Socket client = new Socket(again.boundAddress().getAddress(), again.boundAddress().getPort())) {
            assertThat(client.isConnected()).isTrue();
            assertThat(again.boundAddress()).isEqualTo(taken.listen());
        }
    }
}
