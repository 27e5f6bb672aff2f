package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.egressd.policy.Protocol;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import org.junit.jupiter.api.Test;

class RequestTargetTest {

    static HttpRequest request(HttpMethod method, String uri, String... hosts) {
        HttpRequest r = new DefaultHttpRequest(HttpVersion.HTTP_1_1, method, uri);
        for (String host : hosts) {
            r.headers().add("Host", host);
        }
        return r;
    }

    @Test
    void connectNeedsAnExplicitPort() throws Exception {
        RequestTarget ok = RequestTarget.of(request(HttpMethod.CONNECT, "api.example.com:443"));
        RequestTarget v6 = RequestTarget.of(request(HttpMethod.CONNECT, "[2001:db8::1]:8443"));
        RequestTarget none = RequestTarget.of(request(HttpMethod.CONNECT, "api.example.com"));
        RequestTarget bad = RequestTarget.of(request(HttpMethod.CONNECT, "api.example.com:+443"));
        RequestTarget zero = RequestTarget.of(request(HttpMethod.CONNECT, "api.example.com:0"));
        RequestTarget bare6 = RequestTarget.of(request(HttpMethod.CONNECT, "2001:db8::1:443"));

        assertThat(ok).isEqualTo(new RequestTarget(Protocol.CONNECT, "api.example.com", 443, null, null));
        assertThat(v6.host()).isEqualTo("[2001:db8::1]");
        assertThat(v6.port()).isEqualTo(8443);
        assertThat(none.valid()).isFalse();
        assertThat(none.host()).isEqualTo("api.example.com");
        assertThat(bad.valid()).isFalse();
        assertThat(zero.valid()).isFalse();
        assertThat(bare6.valid()).isFalse();
    }

    @Test
    void absoluteUrisGiveHostPortAndTheOriginFormPath() throws Exception {
        RequestTarget plain = RequestTarget.of(request(HttpMethod.GET, "http://Api.Example.com/a/b?c=d#frag"));
        RequestTarget ported = RequestTarget.of(request(HttpMethod.GET, "HTTP://api.example.com:8080?x=1"));
        RequestTarget bare = RequestTarget.of(request(HttpMethod.GET, "http://api.example.com"));

        assertThat(plain).isEqualTo(new RequestTarget(Protocol.HTTP, "Api.Example.com", 80, "/a/b?c=d", null));
        assertThat(ported.port()).isEqualTo(8080);
        assertThat(ported.path()).isEqualTo("/?x=1");
        assertThat(bare.path()).isEqualTo("/");
    }

    @Test
    void theHostHeaderMustNameTheSameHostAndPort() throws Exception {
        String uri = "http://api.example.com:8080/";
        assertThat(RequestTarget.of(request(HttpMethod.GET, uri, "API.example.com.:8080")).valid()).isTrue();
        assertThat(RequestTarget.of(request(HttpMethod.GET, uri)).valid()).isTrue();
        assertThat(RequestTarget.of(request(HttpMethod.GET, uri, "api.example.com")).problem())
                .contains("does not match");
        assertThat(RequestTarget.of(request(HttpMethod.GET, uri, "evil.example.com:8080")).valid()).isFalse();
        assertThat(RequestTarget.of(request(HttpMethod.GET, uri, "api.example.com:8080", "api.example.com:8080"))
                .problem()).contains("more than one");
        assertThat(RequestTarget.of(request(HttpMethod.GET, "http://api.example.com/", "api.example.com:80"))
                .valid()).isTrue();
    }

    @Test
    void rawNonAsciiHostsAreInvalidEvenWhereIdnaWouldMakeThemValid() throws Exception {
        // As Netty decodes them: one char per byte. U+00AD vanishes in IDNA; U+3002 is a full stop.
        assertThat(RequestTarget.of(request(HttpMethod.GET, "http://a\u00ADpi.example.com/")).problem())
                .contains("non-ASCII");
        assertThat(RequestTarget.of(request(HttpMethod.GET, "http://api.example.com/", "api\u3002example.com"))
                .problem()).contains("non-ASCII");
        assertThat(RequestTarget.of(request(HttpMethod.CONNECT, "b\u00FCcher.example:443")).valid()).isFalse();
        assertThat(RequestTarget.of(request(HttpMethod.GET, "http://xn--bcher-kva.example/")).valid()).isTrue();
    }

    @Test
    void originFormAndOtherSchemesAreNotProxyRequests() {
        assertThatThrownBy(() -> RequestTarget.of(request(HttpMethod.GET, "/index.html", "api.example.com")))
                .isInstanceOf(RequestTarget.NotProxyRequest.class).hasMessageContaining("absolute form");
        assertThatThrownBy(() -> RequestTarget.of(request(HttpMethod.GET, "https://api.example.com/")))
                .isInstanceOf(RequestTarget.NotProxyRequest.class).hasMessageContaining("CONNECT");
        assertThatThrownBy(() -> RequestTarget.of(request(HttpMethod.OPTIONS, "*")))
                .isInstanceOf(RequestTarget.NotProxyRequest.class);
    }
}
