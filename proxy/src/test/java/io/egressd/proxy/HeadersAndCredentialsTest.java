package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.api.Test;

class HeadersAndCredentialsTest {

    @Test
    void clientRequestsLoseHopByHopAndProxyHeadersButKeepTheirFraming() {
        HttpHeaders h = new DefaultHttpHeaders()
                .add("Connection", "keep-alive, X-Hop, Content-Length")
                .add("Connection", "Upgrade, HTTP2-Settings")
                .add("X-Hop", "1").add("Keep-Alive", "timeout=5").add("TE", "trailers").add("Trailer", "X")
                .add("Upgrade", "h2c").add("HTTP2-Settings", "AAA").add("Proxy-Authorization", "Basic eA==")
                .add("Proxy-Connection", "keep-alive").add("Content-Length", "3").add("X-Kept", "yes");

        HopByHopHeaders.sanitizeClientRequest(h);

        assertThat(lowerNames(h)).containsExactlyInAnyOrder("connection", "content-length", "x-kept");
        assertThat(h.get("Connection")).isEqualTo("keep-alive");

        HopByHopHeaders.stripForUpstream(h);
        assertThat(lowerNames(h)).containsExactlyInAnyOrder("content-length", "x-kept");
    }

    private static java.util.List<String> lowerNames(HttpHeaders h) {
        return h.names().stream().map(n -> n.toLowerCase(java.util.Locale.ROOT)).toList();
    }

    @Test
    void closeWinsOverKeepAlive() {
        HttpHeaders h = new DefaultHttpHeaders().add("Connection", "keep-alive").add("Connection", "close");
        HopByHopHeaders.sanitizeClientRequest(h);
        assertThat(h.getAll("Connection")).containsExactly("close");
    }

    @Test
    void basicCredentialsAreRead() {
        ProxyCredentials c = ProxyCredentials.of(new DefaultHttpHeaders()
                .add("Proxy-Authorization", RawHttp.basic("slack", "to:ken")));
        assertThat(c.user()).isEqualTo("slack");
        assertThat(c.password()).isEqualTo("to:ken");
        assertThat(c.malformed()).isFalse();
        assertThat(c.toString()).doesNotContain("to:ken");
        assertThat(ProxyCredentials.of(new DefaultHttpHeaders().add("Proxy-Authorization", "basic  "
                + RawHttp.basic("a", "b").substring(6))).user()).isEqualTo("a");
    }

    @Test
    void unreadableCredentialsAreMalformedAndAbsentOnesAreNone() {
        for (String value : new String[] {"Bearer abc", "Basic !!!", "Basic " + java.util.Base64.getEncoder()
                .encodeToString("nocolon".getBytes()), "Basic"}) {
            assertThat(ProxyCredentials.of(new DefaultHttpHeaders().add("Proxy-Authorization", value)).malformed())
                    .as(value).isTrue();
        }
        assertThat(ProxyCredentials.of(new DefaultHttpHeaders()
                .add("Proxy-Authorization", RawHttp.basic("a", "b"))
                .add("Proxy-Authorization", RawHttp.basic("c", "d"))).malformed()).isTrue();
        assertThat(ProxyCredentials.of(new DefaultHttpHeaders())).isEqualTo(ProxyCredentials.NONE);
    }
}
