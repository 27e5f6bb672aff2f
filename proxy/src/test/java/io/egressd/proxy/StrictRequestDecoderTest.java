package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The strict head check reads heads only: bodies, pipelining and split reads pass as before. */
class StrictRequestDecoderTest {

    /** Decodes {@code wire} fed in pieces of {@code step} bytes; the requests' methods and targets, and body bytes. */
    private static List<String> decode(String wire, int step) {
        EmbeddedChannel channel = new EmbeddedChannel(new StrictRequestDecoder());
        byte[] bytes = wire.getBytes(StandardCharsets.ISO_8859_1);
        for (int i = 0; i < bytes.length; i += step) {
            channel.writeInbound(Unpooled.wrappedBuffer(bytes, i, Math.min(step, bytes.length - i)));
        }
        List<String> seen = new ArrayList<>();
        StringBuilder body = new StringBuilder();
        for (Object msg; (msg = channel.readInbound()) != null; ) {
            if (msg instanceof HttpRequest request) {
                seen.add(request.decoderResult().isSuccess() ? request.method() + " " + request.uri()
                        : "failed: " + request.decoderResult().cause().getMessage());
            }
            if (msg instanceof HttpContent content) {
                body.append(content.content().toString(StandardCharsets.ISO_8859_1));
                if (msg instanceof LastHttpContent && body.length() > 0) {
                    seen.add("body " + body);
                    body.setLength(0);
                }
            }
            ReferenceCountUtil.release(msg);
        }
        channel.finishAndReleaseAll();
        return seen;
    }

    @Test
    void bodiesThatLookLikeBadHeadsArePipelinedThrough() {
        String wire = "POST http://a.test/ HTTP/1.1\r\nHost: a.test\r\nContent-Length: 9\r\n\r\nx\r\n y\0z\r\n"
                + "\r\n" // an empty line between requests is ignored
                + "PUT http://a.test/c HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "4\r\n\r\n \t\r\n0\r\n\r\n"
                + "GET http://a.test/d?q=%20 HTTP/1.1\r\nHost: a.test\r\nX-Latin: caf\u00e9\tok\r\n\r\n";
        List<String> expected = List.of("POST http://a.test/", "body x\r\n y\0z\r\n", "PUT http://a.test/c",
                "body \r\n \t", "GET http://a.test/d?q=%20");
        assertThat(decode(wire, wire.length())).isEqualTo(expected);
        assertThat(decode(wire, 1)).as("one byte at a time").isEqualTo(expected);
        assertThat(decode(wire, 7)).as("seven bytes at a time").isEqualTo(expected);
    }

    @Test
    void ambiguousLengthsAndVersionsOtherThanOneDotXAreRefusedInEveryVersion() {
        for (String version : List.of("HTTP/1.0", "HTTP/1.1")) {
            assertThat(decode("POST http://a.test/ " + version + "\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"
                    + "hello", 4)).as(version).containsExactly("failed: more than one Content-Length field");
            assertThat(decode("POST http://a.test/ " + version + "\r\nContent-Length: 5\r\n"
                    + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 64)).as(version).hasSize(1)
                    .allSatisfy(s -> assertThat(s).startsWith("failed: "));
        }
        for (String version : List.of("HTTP/0.1", "HTTP/0.9", "HTTP/2.0", "HTTP/9.9", "HTTP/1.2")) {
            assertThat(decode("GET http://a.test/ " + version + "\r\n\r\n", 64)).as(version).containsExactly(
                    "failed: request line does not end in one space and HTTP/1.0 or HTTP/1.1");
        }
    }

    @Test
    void aBadHeadAfterAGoodRequestIsRefusedAndNothingAfterItIsRead() {
        String wire = "GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n"
                + "GET http://a.test/ HTTP/1.1\r\nHost: a.test\r\nX-Folded: a\r\n b\r\n\r\n"
                + "GET http://a.test/after HTTP/1.1\r\nHost: a.test\r\n\r\n";
        assertThat(decode(wire, 5)).containsExactly("GET http://a.test/", "failed: header continuation line (obs-fold)");
    }
}
