package io.egressd.proxy;

import io.egressd.policy.Decision;
import io.egressd.policy.Front;
import io.egressd.policy.Protocol;
import io.egressd.policy.Reason;
import io.egressd.policy.Rejection;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sits in each client pipeline just before LittleProxy's handler and lets a request through
 * only once it is decided. Denials, 407s and lookup failures are answered here and never
 * reach LittleProxy; an allowed HTTP request goes on with its {@link Exchange}, whose filter
 * makes LittleProxy dial the vetted address. An allowed CONNECT never reaches LittleProxy: the
 * gate dials the vetted address itself and splices the two channels ({@link #openTunnel}).
 *
 * <p>Every method runs on the channel's event loop, so the state needs no locks. While a
 * name is being resolved the gate stops reading from this client and queues whatever was
 * already decoded; the loop itself is never blocked, so the other connections it serves keep
 * flowing. It also holds a request body until the upstream connection is up, because
 * LittleProxy would otherwise wait for the connection on this loop.
 */
final class EgressGate extends ChannelDuplexHandler {

    private static final Logger log = LoggerFactory.getLogger(EgressGate.class);

    /** LittleProxy's name for its response encoder in the client pipeline; a tunnel has no use for it. */
    private static final String LITTLEPROXY_ENCODER = "encoder";
    private static final String TUNNEL_SPLICE = "egressd-splice";
    /** The answer to an allowed CONNECT, as LittleProxy wrote it; shared, so never released. */
    private static final ByteBuf CONNECTION_ESTABLISHED = Unpooled.unreleasableBuffer(Unpooled.copiedBuffer(
            "HTTP/1.1 200 Connection established\r\nVia: 1.1 egressd\r\n\r\n", StandardCharsets.US_ASCII));
    /** How long after the connect guard's 504 Netty gives up connecting itself. */
    private static final long TUNNEL_CONNECT_BACKSTOP_MILLIS = 1000;

    private enum State {
        /** Waiting for the next request. */
        READY,
        /** A request is being decided (usually: its name resolved). */
        DECIDING,
        /** An allowed request is connecting upstream (LittleProxy's for HTTP, the gate's own for CONNECT). */
        AWAITING_UPSTREAM,
        /** Passing an allowed request's body on. */
        FORWARDING_BODY,
        /** Dropping the body of a request that was answered here. */
        DISCARDING_BODY,
        /** CONNECT established: raw bytes. */
        TUNNEL,
        /** Answered and closing; nothing more is read, and nothing LittleProxy writes goes out. */
        CLOSING
    }

    private final GateConfig config;
    private final Deque<Object> inbox = new ArrayDeque<>();
    private ChannelHandlerContext ctx;
    private InetSocketAddress client;
    private State state = State.READY;
    /** The allowed exchange in flight: an HTTP request until its response ends, a CONNECT until close. */
    private Exchange exchange;
    /** Counted against max_connections (and per source) at accept; released once, at removal. */
    private InetAddress counted;
    /** This connection's place in max_connections_per_server, taken at its first admitted request. */
    private final ServerLimits.Slot serverSlot;
    /** Between requests: the next byte starts the header timeout (the first one runs from accept). */
    private boolean awaitingHead = true;
    private ScheduledFuture<?> headTimer;
    private boolean pausedReading;
    /** A CONNECT head was read and HTTP decoding stopped: until the tunnel opens, any byte is early. */
    private boolean connectHeadRead;
    private ScheduledFuture<?> connectGuard;
    /** The upstream channel of this connection's CONNECT, from the moment it is dialed. */
    private Channel tunnelUpstream;
    /** The idle timeout fired and nothing moved since: a close now is the idle timeout's. */
    private boolean idleFired;
    /** The last request whose decision was reported: a failure after that must not report another. */
    private HttpRequest reportedFor;

    EgressGate(GateConfig config) {
        this.config = config;
        this.serverSlot = config.serverLimits().slot();
    }

    // ---- lifecycle

    /**
     * Runs when the accepted channel registers, before it is active and so before any read. A
     * connection beyond {@code max_connections} or its source's {@code max_connections_per_source}
     * is not counted and is closed unread: it never holds a slot, whatever it would have sent.
     */
    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        if (ctx.channel().remoteAddress() instanceof InetSocketAddress address) {
            client = address;
        }
        Rejection refused = client == null || client.getAddress() == null ? Rejection.MAX_CONNECTIONS_PER_SOURCE
                : config.connections().admission(client.getAddress());
        if (refused != null) {
            log.debug("closing a connection from {} at accept: over {}", client, refused.code());
            config.listener().rejected(Front.HTTP, refused);
            state = State.CLOSING;
            ctx.channel().config().setAutoRead(false);
            ctx.executor().execute(ctx::close);
            return;
        }
        counted = client.getAddress();
        startHeadTimer();
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        shutDown();
        if (counted != null) {
            config.connections().released(counted);
            counted = null;
        }
        serverSlot.release();
    }

    /** A handler for the front of the pipeline, where it sees raw bytes before the HTTP decoder does. */
    ChannelInboundHandlerAdapter headWatch() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (awaitingHead && headTimer == null && state != State.CLOSING) {
                    startHeadTimer();
                }
                ctx.fireChannelRead(msg);
            }
        };
    }

    private void startHeadTimer() {
        headTimer = ctx.executor().schedule(this::headTimedOut, config.headerTimeout().toMillis(),
                TimeUnit.MILLISECONDS);
    }

    private void headTimedOut() {
        headTimer = null;
        if (awaitingHead && state != State.CLOSING) {
            log.debug("closing {}: no complete request head within {}", client, config.headerTimeout());
            config.listener().rejected(Front.HTTP, Rejection.HEADER_TIMEOUT);
            state = State.CLOSING;
            ctx.close();
        }
    }

    private void headArrived() {
        awaitingHead = false;
        if (headTimer != null) {
            headTimer.cancel(false);
            headTimer = null;
        }
    }

    /**
     * LittleProxy's idle handler sits before the gate, and LittleProxy closes an idle client (after
     * a write of its own, so not within this call) unless its upstream is still busy: a close with
     * no traffic since the idle event is the idle timeout's, and is reported as such. A tunnel is
     * the gate's own, so the gate closes it: LittleProxy would judge it by an HTTP upstream an
     * earlier request on the connection may have left behind, and might keep it open for good.
     */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
        if (evt instanceof IdleStateEvent) {
            idleFired = true;
            if (state == State.TUNNEL) {
                Splice.closeOnFlush(ctx.channel());
                return;
            }
        }
        super.userEventTriggered(ctx, evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (idleFired) {
            idleFired = false;
            config.listener().rejected(Front.HTTP, Rejection.IDLE_TIMEOUT);
        }
        shutDown();
        super.channelInactive(ctx);
    }

    private void shutDown() {
        if (state != State.TUNNEL && tunnelUpstream != null) {
            tunnelUpstream.close(); // dialing or dialed, never spliced: nothing else will close it
        }
        state = State.CLOSING;
        headArrived();
        cancelConnectGuard();
        finishExchange();
        Object msg;
        while ((msg = inbox.poll()) != null) {
            ReferenceCountUtil.release(msg);
        }
    }

    // ---- inbound

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        idleFired = false;
        if (state == State.CLOSING) {
            ReferenceCountUtil.release(msg);
        } else if (connectHeadRead && state != State.TUNNEL && !endOfConnectHead(msg)) {
            ReferenceCountUtil.release(msg);
            closeWith(Responses.failure(HttpResponseStatus.BAD_REQUEST,
                    "data arrived before the CONNECT was answered; send it after the 200"));
        } else if (state == State.TUNNEL && inbox.isEmpty()) {
            relay(msg);
        } else {
            if (msg instanceof HttpRequest) {
                headArrived();
            }
            inbox.add(msg);
            if (msg instanceof HttpRequest request && HttpMethod.CONNECT.equals(request.method())
                    && request.decoderResult().isSuccess()) {
                connectHeadRead = true;
                stopDecoding(request);
            }
            pump();
        }
    }

    /** The empty last content the decoder emits with a CONNECT head; the only message that may follow it. */
    private static boolean endOfConnectHead(Object msg) {
        return msg instanceof LastHttpContent last && !(msg instanceof HttpRequest) && !last.content().isReadable();
    }

    /**
     * After a CONNECT head the connection is a tunnel or closed, so no later byte may be read as
     * HTTP: removing the decoder now makes Netty pass the bytes it holds, and all later ones, on
     * undecoded. Bytes that came with the CONNECT head are refused in channelRead (a client that
     * sends before the 200 is not speaking the protocol). Reading is paused while the CONNECT is
     * decided and dialed, so bytes sent meanwhile wait in the socket and are read as tunnel data.
     */
    private void stopDecoding(HttpRequest connectHead) {
        HttpRequestDecoder decoder = ctx.pipeline().get(HttpRequestDecoder.class);
        if (decoder == null) {
            log.warn("no HTTP decoder in the client pipeline to stop after a CONNECT; refusing");
            failClosed(connectHead);
            return;
        }
        ctx.pipeline().remove(decoder); // may call channelRead with the undecoded rest right away
    }

    /** Handles queued messages until the gate has to wait; reads from the client only while it need not. */
    private void pump() {
        while (!blocked() && !inbox.isEmpty()) {
            Object msg = inbox.poll();
            try {
                dispatch(msg);
            } catch (RuntimeException e) {
                log.warn("error handling a client message; refusing", e);
                failClosed(msg instanceof HttpRequest request ? request : null);
            }
        }
        if (blocked()) {
            pauseReading();
        } else if (inbox.isEmpty()) {
            resumeReading();
        }
        if (state == State.READY && exchange == null && inbox.isEmpty()) {
            awaitingHead = true; // the next request's first byte starts its header timeout
        }
    }

    private boolean blocked() {
        return switch (state) {
            case DECIDING, AWAITING_UPSTREAM, CLOSING -> true;
            // The next request waits until the previous response is complete: answers stay in order.
            case READY -> exchange != null;
            default -> false;
        };
    }

    private void dispatch(Object msg) {
        switch (state) {
            case READY -> {
                if (msg instanceof HttpRequest request) {
                    begin(request);
                } else {
                    ReferenceCountUtil.release(msg); // leftovers of a request answered here
                }
            }
            case FORWARDING_BODY -> {
                if (msg instanceof HttpContent content) {
                    if (exchange != null) {
                        exchange.sent(content.content().readableBytes());
                    }
                    ctx.fireChannelRead(msg);
                    if (msg instanceof LastHttpContent) {
                        state = State.READY;
                    }
                } else {
                    ReferenceCountUtil.release(msg);
                }
            }
            case DISCARDING_BODY -> {
                ReferenceCountUtil.release(msg);
                if (msg instanceof LastHttpContent) {
                    state = State.READY;
                }
            }
            case TUNNEL -> relay(msg);
            default -> ReferenceCountUtil.release(msg);
        }
    }

    private void relay(Object msg) {
        if (msg instanceof ByteBuf && exchange != null) {
            ctx.fireChannelRead(msg); // to the tunnel's splice, which counts it
        } else {
            ReferenceCountUtil.release(msg); // e.g. the empty last content of the CONNECT request
        }
    }

    private void begin(HttpRequest request) {
        if (request.decoderResult().isFailure()) {
            ReferenceCountUtil.release(request);
            answer(Responses.failure(HttpResponseStatus.BAD_REQUEST, "cannot parse this HTTP request"), true);
            return;
        }
        state = State.DECIDING;
        CompletableFuture<Verdict> verdict;
        try {
            verdict = config.decider().decide(request, client, this::admitServer);
        } catch (RuntimeException e) {
            log.warn("error deciding a request; refusing", e);
            verdict = CompletableFuture.completedFuture(null);
        }
        if (verdict.isDone()) {
            decided(request, verdict.getNow(null));
            return;
        }
        // Completes on the resolver's thread; everything after that belongs on this channel's loop.
        verdict.whenComplete((v, error) -> {
            try {
                ctx.executor().execute(() -> {
                    decided(request, v);
                    pump();
                });
            } catch (RejectedExecutionException e) {
                ReferenceCountUtil.release(request);
            }
        });
    }

    /** Per-server limits, once the request's server is known (on this loop, inside decide). */
    private boolean admitServer(String server) {
        return serverSlot.admit(server);
    }

    private void decided(HttpRequest request, Verdict verdict) {
        if (state != State.DECIDING) {
            ReferenceCountUtil.release(request); // closed while the lookup ran
            return;
        }
        try {
            if (verdict == null) {
                ReferenceCountUtil.release(request);
                failClosed(request);
                return;
            }
            switch (verdict.kind()) {
                case FORWARD -> forward(request, verdict);
                case DENY, CHALLENGE -> refuse(request, verdict);
                case BAD_REQUEST, UPSTREAM_FAILURE -> {
                    if (verdict.decision() != null) {
                        report(request, verdict.target().protocol(), verdict.decision());
                    }
                    ReferenceCountUtil.release(request);
                    answer(Responses.failure(verdict.status(), verdict.message()), true);
                }
            }
        } catch (RuntimeException e) {
            log.warn("error acting on a decision; refusing", e);
            failClosed(request);
        }
    }

    private void refuse(HttpRequest request, Verdict verdict) {
        report(request, verdict.target().protocol(), verdict.decision());
        boolean challenge = verdict.kind() == Verdict.Kind.CHALLENGE;
        // A 407 keeps the connection for the retry with credentials, except after a CONNECT: its head
        // stopped HTTP decoding (stopDecoding), so a refused CONNECT always closes. A client that sent
        // Expect may withhold its body after this answer; waiting to discard that body would swallow
        // the next request as body, so that connection closes too.
        boolean close = !HttpUtil.isKeepAlive(request) || verdict.target().protocol() == Protocol.CONNECT
                || request.headers().contains(HttpHeaderNames.EXPECT)
                || !challenge && verdict.decision().reason() == Reason.LIMIT_EXCEEDED;
        ReferenceCountUtil.release(request);
        answer(challenge ? Responses.challenge(verdict.decision(), close)
                : Responses.denied(verdict.decision(), close), close);
    }

    private void forward(HttpRequest request, Verdict verdict) {
        Decision decision = verdict.decision();
        RequestTarget target = verdict.target();
        report(request, target.protocol(), decision);
        InetSocketAddress dial = new InetSocketAddress(decision.address(), target.port());
        if (target.protocol() == Protocol.CONNECT) {
            // Its head goes nowhere (the tunnel carries the client's bytes only): nothing to sanitize.
            ReferenceCountUtil.release(request);
            exchange = new Exchange(Protocol.CONNECT, client, decision, dial, false, this, ctx.executor());
            openTunnel(exchange);
            return;
        }
        // Read before the headers go: the filter strips Connection from this very request on its way
        // upstream, after which LittleProxy would take it for keep-alive.
        boolean clientCloses = !HttpUtil.isKeepAlive(request);
        HopByHopHeaders.sanitizeClientRequest(request.headers());
        target.pin(request, decision.host(), decision.address());
        Exchange started = new Exchange(Protocol.HTTP, client, decision, dial, clientCloses, this, ctx.executor());
        exchange = started;
        state = State.FORWARDING_BODY;
        ctx.channel().attr(Exchange.NEXT).set(started);
        try {
            ctx.fireChannelRead(request);
        } finally {
            ctx.channel().attr(Exchange.NEXT).set(null);
        }
        // LittleProxy may have answered already (seen in write()) or reused a live connection.
        if (exchange == started && !started.answered() && state != State.CLOSING && started.connectStarted()) {
            state = State.AWAITING_UPSTREAM;
            startConnectGuard(started);
        }
    }

    /**
     * Opens an allowed CONNECT's tunnel without LittleProxy: dials the vetted address on this
     * channel's own loop, and once connected answers 200 and splices the two channels. A tunnel
     * then costs two channels with a handful of handlers each, instead of LittleProxy's second
     * connection with its own pipeline and state machine on top; reading stays paused (pump)
     * until the splice is in place. The connect guard answers 504 at the connect timeout; Netty's
     * own timeout is only a backstop behind it.
     */
    private void openTunnel(Exchange started) {
        state = State.AWAITING_UPSTREAM;
        startConnectGuard(started);
        started.upstreamConnecting();
        ChannelFuture connecting = config.tunnelDialer().connect(ctx.channel(), started.dial,
                config.connectTimeout().toMillis() + TUNNEL_CONNECT_BACKSTOP_MILLIS);
        tunnelUpstream = connecting.channel();
        connecting.addListener((ChannelFuture done) -> {
            try {
                tunnelDialed(started, done);
            } catch (RuntimeException e) {
                // Thrown into Netty's listener loop it would only be logged, and the client left waiting.
                log.warn("error opening a tunnel; closing", e);
                done.channel().close();
                failClosed(null);
            }
        });
    }

    private void tunnelDialed(Exchange started, ChannelFuture done) {
        if (started != exchange || state != State.AWAITING_UPSTREAM) {
            done.channel().close(); // answered 504 meanwhile, or the client is gone
            return;
        }
        cancelConnectGuard();
        if (!done.isSuccess()) {
            log.debug("CONNECT from {} to {} failed", client, started.dial, done.cause());
            closeWith(Responses.failure(HttpResponseStatus.BAD_GATEWAY, "connecting to "
                    + started.decision.host() + ":" + started.dial.getPort() + " ("
                    + started.dial.getAddress().getHostAddress() + ") failed: " + Upstream.describe(done.cause())));
            return;
        }
        Channel upstream = done.channel();
        config.listener().upstreamConnected(Protocol.CONNECT, started.decision, started.connectNanos());
        state = State.TUNNEL;
        ChannelPipeline pipeline = ctx.pipeline();
        // Raw bytes from here on: no HTTP encoding, no header timer, and writes go out when a read
        // completes (Splice flushes then), so nothing is left to consolidate.
        removeIfPresent(pipeline, LITTLEPROXY_ENCODER);
        removeIfPresent(pipeline, GateInstallingGroup.HEAD_WATCH);
        removeIfPresent(pipeline, GateInstallingGroup.FLUSHES);
        ctx.writeAndFlush(CONNECTION_ESTABLISHED.retainedDuplicate());
        // The splices count the bytes into the exchange; LittleProxy's handler after the client's sees only the close.
        pipeline.addAfter(ctx.name(), TUNNEL_SPLICE, new Splice(upstream, started, true));
        upstream.pipeline().addLast(TUNNEL_SPLICE, new Splice(ctx.channel(), started, false));
        if (!upstream.isActive()) {
            ctx.close(); // closed before its splice was there to pass the close on
            return;
        }
        upstream.config().setAutoRead(true);
        pump(); // relays what waited, and reads the client again
    }

    private static void removeIfPresent(ChannelPipeline pipeline, String name) {
        if (pipeline.get(name) != null) {
            pipeline.remove(name);
        }
    }

    /** From LittleProxy's filter, on this loop: the upstream of an HTTP exchange is connected. */
    void upstreamConnected(Exchange connected) {
        config.listener().upstreamConnected(connected.protocol, connected.decision, connected.connectNanos());
        if (connected == exchange && state == State.AWAITING_UPSTREAM && connected.protocol == Protocol.HTTP) {
            cancelConnectGuard();
            state = State.FORWARDING_BODY;
            pump();
        }
    }

    /**
     * An HTTP upstream connection closed. If it was the one the exchange in flight uses, its answer
     * can no longer complete: a 502 when none started, else the client connection closes, so the
     * client sees a truncated answer end with its connection rather than wait for the rest.
     */
    void upstreamClosed(InetSocketAddress upstream) {
        Exchange current = exchange;
        if (current == null || current.protocol != Protocol.HTTP || !current.dial.equals(upstream)
                || state == State.CLOSING) {
            return; // the answer ended (a body that ends at the close included), or another connection closed
        }
        log.debug("upstream {} closed before its answer to {} ended", upstream, client);
        closeWith(Responses.failure(HttpResponseStatus.BAD_GATEWAY, current.decision.host() + ":"
                + upstream.getPort() + " closed the connection before it answered"));
    }

    // ---- outbound: what LittleProxy writes back

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!(msg instanceof ByteBuf empty && !empty.isReadable())) {
            idleFired = false; // LittleProxy's idle close writes an empty buffer first
        }
        Exchange current = exchange;
        if (state == State.CLOSING) {
            // Answered here and closing: nothing of LittleProxy's (a late 200 or 502) may follow that answer.
            ReferenceCountUtil.release(msg);
            promise.tryFailure(new ClosedChannelException());
            return;
        }
        if (state == State.TUNNEL || current != null && current.protocol == Protocol.CONNECT) {
            if (msg instanceof HttpObject) {
                // The tunnel is the gate's own; LittleProxy, which never saw the CONNECT, has nothing to answer.
                ReferenceCountUtil.release(msg);
                promise.trySuccess();
                return;
            }
        } else if (current != null && current.answered() && msg instanceof HttpResponse again
                && again.status().code() >= 200) {
            // A second answer to one request: LittleProxy's own 502 after its upstream failed mid-answer.
            // Written, it would land inside the body; closing tells the client the answer is incomplete.
            ReferenceCountUtil.release(msg);
            promise.tryFailure(new ClosedChannelException());
            log.debug("upstream of {} failed in the middle of its answer; closing", client);
            finishExchange();
            state = State.CLOSING;
            ctx.close();
            return;
        } else if (current != null && msg instanceof HttpObject object && followAnswer(current, object)) {
            promise = promise.unvoid().addListener(ChannelFutureListener.CLOSE);
        }
        ctx.write(msg, promise);
    }

    /** Moves the gate along as the answer to an exchange goes out; true to close after this write. */
    private boolean followAnswer(Exchange current, HttpObject msg) {
        switch (current.observe(msg)) {
            case ANSWER_STARTED -> {
                markClose(current, msg);
                upstreamAnswered();
            }
            case ANSWER_ENDED -> {
                markClose(current, msg);
                upstreamAnswered();
                finishExchange();
                if (current.closesAfterAnswer()) {
                    state = State.CLOSING;
                    return true;
                }
                schedulePump();
            }
            case NOTHING -> { }
        }
        return false;
    }

    /** An answer the gate closes after (the client sent {@code Connection: close}, or LittleProxy's 504) says so. */
    private static void markClose(Exchange current, HttpObject msg) {
        if (current.closesAfterAnswer() && msg instanceof HttpResponse head) {
            head.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        }
    }

    /** An answer, LittleProxy's 502 included, means connecting is over; LittleProxy drops any body left. */
    private void upstreamAnswered() {
        if (state == State.AWAITING_UPSTREAM) {
            cancelConnectGuard();
            state = State.FORWARDING_BODY;
            schedulePump();
        }
    }

    // ---- answers, timers, reading

    private void answer(FullHttpResponse response, boolean close) {
        // Written from this handler's position: it never passes through LittleProxy.
        if (close) {
            state = State.CLOSING;
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        } else {
            state = State.DISCARDING_BODY;
            ctx.writeAndFlush(response);
        }
    }

    /**
     * Something failed where it should not: answer 403 with a reason and close, never just drop. The
     * refusal is reported like any other (audited and counted); nothing about the destination is
     * trusted, so it names none.
     *
     * @param request the request being handled, for its protocol; null when there is none
     */
    private void failClosed(HttpRequest request) {
        if (state == State.CLOSING || !ctx.channel().isActive()) {
            return;
        }
        Decision refused = new Decision(false, Reason.INVALID_HOST, null, null, false, "-", 0, null, null, "-");
        // A request whose decision went out already (or none at all: a body part failed) was reported.
        if (request != null && request != reportedFor) {
            report(request, HttpMethod.CONNECT.equals(request.method()) ? Protocol.CONNECT : Protocol.HTTP, refused);
        }
        closeWith(Responses.denied(refused, true));
    }

    /** Tells the listener (audit, metrics) of the decision about the request in hand, once. */
    private void report(HttpRequest request, Protocol protocol, Decision decision) {
        reportedFor = request;
        config.listener().decided(protocol, client, decision);
    }

    /** Answers {@code response} and closes; only closes when part of another answer is already out. */
    private void closeWith(FullHttpResponse response) {
        if (state == State.CLOSING || !ctx.channel().isActive()) {
            response.release();
            return;
        }
        if (state == State.TUNNEL || exchange != null && exchange.answered()) {
            // Part of an answer is already on the wire; another answer would corrupt it.
            response.release();
            state = State.CLOSING;
            ctx.close();
            return;
        }
        answer(response, true);
    }

    private void startConnectGuard(Exchange started) {
        cancelConnectGuard();
        // Netty's connect timeout (the tunnel's, and LittleProxy's for HTTP) is set longer and would
        // only make a 502; this one answers 504 first.
        connectGuard = ctx.executor().schedule(() -> connectTimedOut(started),
                config.connectTimeout().toMillis(), TimeUnit.MILLISECONDS);
    }

    private void connectTimedOut(Exchange started) {
        connectGuard = null;
        if (started == exchange && state == State.AWAITING_UPSTREAM) {
            answer(Responses.failure(HttpResponseStatus.GATEWAY_TIMEOUT, "connecting to "
                    + started.decision.host() + ":" + started.dial.getPort() + " ("
                    + started.dial.getAddress().getHostAddress() + ") timed out"), true);
        }
    }

    private void cancelConnectGuard() {
        if (connectGuard != null) {
            connectGuard.cancel(false);
            connectGuard = null;
        }
    }

    private void schedulePump() {
        // Not from inside write(): LittleProxy may be in the middle of its own call chain.
        ctx.executor().execute(this::pump);
    }

    private void pauseReading() {
        if (!pausedReading) {
            pausedReading = true;
            ctx.channel().config().setAutoRead(false);
        }
    }

    private void resumeReading() {
        // Only undo our own pause; LittleProxy (HTTP) and Splice (tunnels) pause reading for
        // backpressure and resume it themselves.
        if (pausedReading) {
            pausedReading = false;
            ctx.channel().config().setAutoRead(true);
        }
    }

    private void finishExchange() {
        Exchange done = exchange;
        if (done != null) {
            exchange = null;
            done.report(config.listener());
        }
    }
}
