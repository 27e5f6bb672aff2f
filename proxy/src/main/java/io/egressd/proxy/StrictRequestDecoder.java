package io.egressd.proxy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * LittleProxy's HTTP request decoder, with every request head checked byte for byte before
 * Netty parses it. Netty reads some heads leniently (several spaces between the parts of the
 * request line, any method case, obs-fold continuation lines, a NUL or a fragment in the
 * target) and forwards what it made of them; an upstream may read the same bytes differently,
 * which is how requests are smuggled past a proxy. Such a head is refused instead: the gate sees
 * a request whose decoder result failed and answers 400, and nothing is forwarded.
 *
 * <p>A head is: optional empty lines, then {@code METHOD SP request-target SP HTTP/1.0 CRLF} (or 1.1)
 * with an upper-case method and a target without spaces, control characters or '#', then at most
 * {@value #MAX_HEADERS} header lines, none starting with whitespace, none with a control
 * character other than HT, each ending in CRLF, then CRLF. Bodies are left to Netty: the check
 * runs only where a head starts (at the start, and after each request's last content). A head
 * with two Content-Length fields, or Content-Length and Transfer-Encoding together, is refused
 * too, whatever its version: Netty rejects those shapes in HTTP/1.1 only, and passed them on in
 * HTTP/1.0, two equal lengths merged into one (found by HttpRequestFuzzTest).
 */
final class StrictRequestDecoder extends HttpRequestDecoder {

    /** The pipeline name LittleProxy gives its request decoder, kept so both of its lookups still work. */
    static final String NAME = "decoder";
    // LittleProxy's defaults, which egressd does not change.
    static final int MAX_INITIAL_LINE_LENGTH = 8192;
    static final int MAX_HEADER_SIZE = 8192 * 2;
    static final int MAX_CHUNK_SIZE = 8192 * 2;
    static final int MAX_HEADERS = 128;
    private static final int MAX_HEAD = MAX_INITIAL_LINE_LENGTH + MAX_HEADER_SIZE;
    /** What {@link #check} says while the head has not fully arrived; compared by identity. */
    private static final String INCOMPLETE = "the head is incomplete";

    /** The next byte starts a request head (or the empty lines before one). */
    private boolean atHead = true;
    private boolean refused;
    // How far the check of the head now arriving got, relative to the reader index, which stays
    // put until the head is complete: a head trickled in byte by byte is still read once.
    private int scanned;
    private int lineStart;
    private int lines;
    private int lengthFields;
    private boolean transferEncoding;

    StrictRequestDecoder() {
        super(MAX_INITIAL_LINE_LENGTH, MAX_HEADER_SIZE, MAX_CHUNK_SIZE);
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) throws Exception {
        if (refused) {
            in.skipBytes(in.readableBytes());
            return;
        }
        if (atHead) {
            String problem = check(in);
            if (problem == INCOMPLETE) {
                return; // wait for the rest of the head; ByteToMessageDecoder keeps the bytes
            }
            scanned = 0;
            lineStart = 0;
            lines = 0;
            lengthFields = 0;
            transferEncoding = false;
            if (problem != null) {
                refused = true;
                in.skipBytes(in.readableBytes());
                DefaultFullHttpRequest bad = new DefaultFullHttpRequest(HttpVersion.HTTP_1_0, HttpMethod.GET,
                        "/bad-request", Unpooled.EMPTY_BUFFER);
                bad.setDecoderResult(DecoderResult.failure(new IllegalArgumentException(problem)));
                out.add(bad);
                return;
            }
        }
        int first = out.size();
        super.decode(ctx, in, out);
        for (int i = first; i < out.size(); i++) {
            Object msg = out.get(i);
            if (msg instanceof HttpMessage) {
                atHead = false;
            }
            if (msg instanceof LastHttpContent) {
                atHead = true;
            }
        }
    }

    /**
     * Null when the readable bytes start with a complete, strict head; else what is wrong with
     * it, or {@link #INCOMPLETE}. Lines are checked as their LF arrives.
     */
    private String check(ByteBuf in) {
        int base = in.readerIndex();
        int end = in.writerIndex();
        for (int i = base + scanned; i < end; i++) {
            if (i - base >= MAX_HEAD) {
                return "request head larger than " + MAX_HEAD + " bytes";
            }
            byte b = in.getByte(i);
            int from = base + lineStart;
            if (lines == 0 && i == from && (b == '\r' || b == '\n')) {
                lineStart++; // empty lines before a request line are ignored (RFC 9112 section 2.2), as Netty does
                continue;
            }
            if (b == '\n') {
                if (i == from || in.getByte(i - 1) != '\r') {
                    return "line ends in a bare LF; HTTP lines end in CRLF";
                }
                int to = i - 1;
                if (to == from) {
                    // The empty line after the header fields: a complete head, if its length is unambiguous.
                    if (lengthFields > 1) {
                        return "more than one Content-Length field";
                    }
                    return lengthFields == 1 && transferEncoding ? "both Content-Length and Transfer-Encoding" : null;
                }
                String problem = lines == 0 ? requestLine(in, from, to) : headerLine(in, from, to);
                if (problem != null) {
                    return problem;
                }
                if (lines > 0) {
                    countFraming(in, from, to);
                }
                if (++lines > MAX_HEADERS + 1) {
                    return "more than " + MAX_HEADERS + " header fields";
                }
                lineStart = i + 1 - base;
            } else if (b == 0) {
                return "NUL byte in the request head";
            }
        }
        scanned = end - base;
        return INCOMPLETE;
    }

    /** Notes a Content-Length or Transfer-Encoding field (name compared without case, blanks before ':' ignored). */
    private void countFraming(ByteBuf in, int from, int to) {
        int colon = in.indexOf(from, to, (byte) ':');
        if (colon < 0) {
            return;
        }
        String name = in.toString(from, colon - from, StandardCharsets.ISO_8859_1).strip();
        if (name.equalsIgnoreCase("content-length")) {
            lengthFields++;
        } else if (name.equalsIgnoreCase("transfer-encoding")) {
            transferEncoding = true;
        }
    }

    /** {@code METHOD SP target SP HTTP/1.0} or {@code HTTP/1.1}, exactly. */
    private static String requestLine(ByteBuf in, int from, int to) {
        int i = from;
        while (i < to && isMethodChar(in.getByte(i))) {
            i++;
        }
        if (i == from || i >= to || in.getByte(i) != ' ') {
            return "request line does not start with an upper-case method and one space";
        }
        int target = ++i;
        while (i < to && isTargetByte(in.getByte(i))) {
            i++;
        }
        if (i == target || i >= to || in.getByte(i) != ' ') {
            return "request target has a control character, a '#' or a second space";
        }
        i++;
        if (to - i != 8 || !in.toString(i, 7, StandardCharsets.US_ASCII).equals("HTTP/1.")
                || in.getByte(i + 7) != '0' && in.getByte(i + 7) != '1') {
            return "request line does not end in one space and HTTP/1.0 or HTTP/1.1";
        }
        return null;
    }

    /** A field line: not a continuation (obs-fold), no control character other than HT. */
    private static String headerLine(ByteBuf in, int from, int to) {
        byte first = in.getByte(from);
        if (first == ' ' || first == '\t') {
            return "header continuation line (obs-fold)";
        }
        for (int i = from; i < to; i++) {
            byte b = in.getByte(i);
            if ((b >= 0 && b < 0x20 && b != '\t') || b == 0x7f) {
                return "control character in a header line";
            }
        }
        return null;
    }

    /**
     * Not a control character, space, DEL or '#'. Bytes above 0x7f pass: the policy refuses a
     * non-ASCII host as invalid_host (403, audited), which says more than a 400 would.
     */
    private static boolean isTargetByte(byte b) {
        return (b < 0 || b > 0x20) && b != 0x7f && b != '#';
    }

    private static boolean isMethodChar(byte b) {
        return (b >= 'A' && b <= 'Z') || b == '-';
    }

}
