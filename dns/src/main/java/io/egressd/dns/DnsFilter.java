package io.egressd.dns;

import io.egressd.policy.ConnectionCount;
import io.egressd.policy.EgressListener;
import io.egressd.policy.LearnedAddresses;
import io.egressd.policy.Policy;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.LengthFieldPrepender;
import io.netty.handler.timeout.IdleStateHandler;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.nio.channels.DatagramChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The filtering DNS server: UDP and TCP on one port. Queries for names a server's allowlist
 * covers are forwarded upstream (and cached), their addresses filtered by the policy; every
 * other query is answered locally and never leaves the machine.
 *
 * <pre>{@code
 * try (DnsFilter dns = DnsFilter.start(settings, policyRef::get, listener)) { ... }
 * }</pre>
 */
public final class DnsFilter implements AutoCloseable {

    /** How long an idle TCP connection is kept (RFC 7766 6.2.3 asks for seconds, not minutes). */
    static final int TCP_IDLE_SECONDS = 30;
    /** Larger datagrams are not DNS queries worth reading whole; they arrive cut and get FORMERR. */
    static final int MAX_QUERY_DATAGRAM = 4096;
    private static final int PORT_ATTEMPTS = 5;
    private static final Logger log = LoggerFactory.getLogger(DnsFilter.class);

    private final EventLoopGroup group;
    /** One UDP socket per I/O thread, all on one port (SO_REUSEPORT): the kernel spreads clients over them. */
    private final List<Channel> udp;
    private final Channel tcp;
    private final ConnectionCount tcpLimits;

    private DnsFilter(EventLoopGroup group, List<Channel> udp, Channel tcp, ConnectionCount tcpLimits) {
        this.group = group;
        this.udp = udp;
        this.tcp = tcp;
        this.tcpLimits = tcpLimits;
    }

    /**
     * Binds UDP and TCP on {@code settings.listen()} and starts answering.
     *
     * @param policy   the current policy, read once per query (a reload swaps what it returns)
     * @param listener told about every query: allowed, refused or failed
     * @throws IOException when a port cannot be bound
     * @throws IllegalArgumentException when an upstream is this listener itself (queries would loop)
     */
    public static DnsFilter start(DnsSettings settings, Supplier<Policy> policy, EgressListener listener)
            throws IOException {
        return start(settings, policy, listener, null, System::nanoTime);
    }

    /**
     * The same, also recording in {@code learned} every address each server is answered (after
     * filtering, with the TTL the client sees), so that the SOCKS5 front can decide a client's
     * IP-literal request as the allowed name it looked up.
     */
    public static DnsFilter start(DnsSettings settings, Supplier<Policy> policy, EgressListener listener,
                                  LearnedAddresses learned) throws IOException {
        return start(settings, policy, listener, learned, System::nanoTime);
    }

    /** The same with the cache's clock supplied (tests make time pass without waiting). */
    static DnsFilter start(DnsSettings settings, Supplier<Policy> policy, EgressListener listener,
                           LongSupplier nanoClock) throws IOException {
        return start(settings, policy, listener, null, nanoClock);
    }

    static DnsFilter start(DnsSettings settings, Supplier<Policy> policy, EgressListener listener,
                           LearnedAddresses learned, LongSupplier nanoClock) throws IOException {
        return start(settings, policy, listener, learned, nanoClock, DnsTransport.best());
    }

    /** The same on a given transport (tests run the NIO fallback where epoll is available). */
    static DnsFilter start(DnsSettings settings, Supplier<Policy> policy, EgressListener listener,
                           LearnedAddresses learned, LongSupplier nanoClock, DnsTransport transport)
            throws IOException {
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(listener, "listener");
        refuseLoop(settings);
        QueryService service = new QueryService(settings.boundServer(), settings.denyRcode(), policy, listener,
                new AnswerCache(settings.cacheMaxEntries(), settings.cacheMaxBytes(),
                        DnsSettings.MAX_CACHED_ANSWER_BYTES, nanoClock),
                new Forwarder(settings.upstreams(), settings.upstreamTimeout()), learned);
        // One I/O thread per core (at least two), each with a UDP socket of its own; TCP
        // connections share them. No query work ever blocks them (upstream answers arrive from
        // dnsjava's selector thread).
        int threads = ioThreads();
        EventLoopGroup group = transport.group(threads);
        try {
            ConnectionCount tcpLimits = new ConnectionCount(settings.tcpMaxConnections(),
                    settings.tcpMaxConnectionsPerSource());
            SourceRateLimit udpRate = new SourceRateLimit(settings.udpQueriesPerSecondPerSource(),
                    settings.udpQueryBurstPerSource(), nanoClock);
            List<Channel> channels = bind(settings, transport, group, service, tcpLimits, udpRate, listener, threads);
            log.info("DNS filter on {} ({} UDP socket(s), {})", channels.get(0).localAddress(), channels.size() - 1,
                    transport == DnsTransport.EPOLL ? "epoll, recvmmsg/sendmmsg" : "NIO: " + DnsTransport.whyNotEpoll());
            return new DnsFilter(group, channels.subList(0, channels.size() - 1), channels.get(channels.size() - 1),
                    tcpLimits);
        } catch (IOException | RuntimeException e) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
            throw e;
        }
    }

    static int ioThreads() {
        return Math.max(2, Runtime.getRuntime().availableProcessors());
    }

    /** The UDP sockets, then the TCP listener. */
    private static List<Channel> bind(DnsSettings settings, DnsTransport transport, EventLoopGroup group,
                                      QueryService service, ConnectionCount tcpLimits, SourceRateLimit udpRate,
                                      EgressListener listener, int udpSockets) throws IOException {
        InetSocketAddress listen = settings.listen();
        boolean reusePort = udpSockets > 1 && transport.reusePortSupported();
        Bootstrap udp = transport.udp(new Bootstrap().group(group), reusePort)
                // Room for bursts of queries (the kernel caps this at net.core.rmem_max).
                .option(ChannelOption.SO_RCVBUF, 1 << 20)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new UdpQueryHandler(service, udpRate, listener));
                    }
                });
        ServerBootstrap tcp = new ServerBootstrap().group(group).channel(transport.serverChannel())
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        // Admission first: a connection over the limits is closed before anything is read.
                        ch.pipeline().addLast(
                                new TcpAdmission(tcpLimits, listener),
                                new IdleStateHandler(0, 0, TCP_IDLE_SECONDS),
                                new DnsFrameDecoder(settings.tcpFrameTimeout(), listener),
                                new LengthFieldPrepender(2),
                                new TcpQueryHandler(service, listener));
                    }
                });
        // Port 0: UDP picks a port and TCP follows it; retry in the rare case TCP finds it taken.
        int attempts = listen.getPort() == 0 ? PORT_ATTEMPTS : 1;
        IOException last = null;
        for (int i = 0; i < attempts; i++) {
            // With SO_REUSEPORT the kernel would let our sockets join any same-user socket that
            // already holds the port with SO_REUSEPORT (a left-over egressd, an Unbound), and
            // hand it part of the queries, unfiltered. So first bind the port alone.
            InetSocketAddress free = reusePort ? exclusivelyFree(listen) : listen;
            List<Channel> channels = new ArrayList<>();
            try {
                Channel u = await(udp.bind(free));
                channels.add(u);
                InetSocketAddress bound = (InetSocketAddress) u.localAddress();
                // Bootstrap registers each socket with the group's next loop: one per thread.
                for (int more = 1; reusePort && more < udpSockets; more++) {
                    channels.add(await(udp.bind(bound)));
                }
                channels.add(await(tcp.bind(new InetSocketAddress(listen.getAddress(), bound.getPort()))));
                return channels;
            } catch (IOException e) {
                channels.forEach(c -> c.close().awaitUninterruptibly());
                last = e;
            }
        }
        throw last;
    }

    /**
     * Binds {@code listen} with a plain UDP socket (no SO_REUSEPORT, no SO_REUSEADDR), which fails
     * when anything holds the port, and releases it; the port it got (the one asked for, or a
     * fresh one for port 0) is then free for our SO_REUSEPORT sockets.
     */
    static InetSocketAddress exclusivelyFree(InetSocketAddress listen) throws IOException {
        try (DatagramChannel probe = DatagramChannel.open(listen.getAddress() instanceof java.net.Inet6Address
                ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET)) {
            probe.setOption(StandardSocketOptions.SO_REUSEADDR, false);
            probe.bind(listen);
            return (InetSocketAddress) probe.getLocalAddress();
        } catch (IOException e) {
            String where = "DNS port " + listen.getAddress().getHostAddress() + ":" + listen.getPort();
            // EACCES is a port below 1024 without CAP_NET_BIND_SERVICE, not a port someone holds.
            boolean denied = String.valueOf(e.getMessage()).contains("Permission denied");
            BindException in = new BindException(denied
                    ? where + " cannot be bound: permission denied (a port below 1024 needs root or"
                            + " CAP_NET_BIND_SERVICE; docs/deploy.md)"
                    : where + " is already in use (" + e.getMessage() + ")");
            in.initCause(e);
            throw in;
        }
    }

    private static Channel await(io.netty.channel.ChannelFuture future) throws IOException {
        future.awaitUninterruptibly();
        if (future.isSuccess()) {
            return future.channel();
        }
        Throwable cause = future.cause();
        if (cause instanceof IOException io) {
            throw io;
        }
        throw new IOException("cannot bind DNS listener: " + cause, cause);
    }

    private static void refuseLoop(DnsSettings settings) {
        InetSocketAddress listen = settings.listen();
        if (listen.getPort() == 0) {
            return;
        }
        for (InetSocketAddress upstream : settings.upstreams()) {
            boolean samePort = upstream.getPort() == listen.getPort();
            boolean sameHost = upstream.getAddress().equals(listen.getAddress())
                    || (listen.getAddress().isAnyLocalAddress() && upstream.getAddress().isLoopbackAddress());
            if (samePort && sameHost) {
                throw new IllegalArgumentException("upstream " + upstream.getAddress().getHostAddress() + ":"
                        + upstream.getPort() + " is this DNS listener itself; queries would loop");
            }
        }
    }

    /** Where UDP queries are answered (the bound port when the settings said 0). */
    public InetSocketAddress udpAddress() {
        return (InetSocketAddress) udp.get(0).localAddress();
    }

    /** Where TCP queries are answered; the same port as UDP. */
    public InetSocketAddress tcpAddress() {
        return (InetSocketAddress) tcp.localAddress();
    }

    /** DNS TCP connections open now (admitted ones only). */
    int openTcpConnections() {
        return tcpLimits.open();
    }

    /**
     * Stops listening on UDP and TCP: no new query or TCP connection is taken; admitted TCP
     * connections carry on until {@link #close}.
     */
    public void stopAccepting() {
        udp.forEach(c -> c.close().awaitUninterruptibly());
        tcp.close().awaitUninterruptibly();
    }

    /** Stops listening and waits for the I/O threads to end; queries in flight get no answer. */
    @Override
    public void close() {
        udp.forEach(c -> c.close().awaitUninterruptibly());
        tcp.close().awaitUninterruptibly();
        group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }
}
