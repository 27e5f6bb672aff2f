package io.egressd.dns;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollDatagramChannel;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioChannelOption;
import io.netty.channel.socket.nio.NioDatagramChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.io.IOException;
import java.net.StandardSocketOptions;
import java.nio.channels.DatagramChannel;

/**
 * The socket layer under the DNS filter: Netty's native epoll transport where its library
 * loads (Linux on x86_64), else the JDK's NIO. On epoll one {@code recvmmsg} reads a batch of
 * datagrams and one {@code sendmmsg} writes the batch's replies; on NIO each datagram is a
 * system call of its own.
 */
enum DnsTransport {

    EPOLL {
        @Override
        EventLoopGroup group(int threads) {
            return new MultiThreadIoEventLoopGroup(threads, EpollIoHandler.newFactory());
        }

        @Override
        Class<? extends ServerChannel> serverChannel() {
            return EpollServerSocketChannel.class;
        }

        @Override
        Bootstrap udp(Bootstrap b, boolean reusePort) {
            b.channel(EpollDatagramChannel.class)
                    // A receive buffer of several maximal datagrams: Netty then reads with
                    // recvmmsg, one slice per datagram.
                    .option(EpollChannelOption.MAX_DATAGRAM_PAYLOAD_SIZE, DnsFilter.MAX_QUERY_DATAGRAM)
                    .option(ChannelOption.RECVBUF_ALLOCATOR,
                            new FixedRecvByteBufAllocator(DnsFilter.MAX_QUERY_DATAGRAM * DATAGRAMS_PER_READ));
            if (reusePort) {
                b.option(EpollChannelOption.SO_REUSEPORT, true);
            }
            return b;
        }

        @Override
        boolean reusePortSupported() {
            return true;
        }
    },

    NIO {
        @Override
        EventLoopGroup group(int threads) {
            return new MultiThreadIoEventLoopGroup(threads, NioIoHandler.newFactory());
        }

        @Override
        Class<? extends ServerChannel> serverChannel() {
            return NioServerSocketChannel.class;
        }

        @Override
        Bootstrap udp(Bootstrap b, boolean reusePort) {
            b.channel(NioDatagramChannel.class)
                    .option(ChannelOption.RECVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(DnsFilter.MAX_QUERY_DATAGRAM));
            if (reusePort) {
                b.option(NioChannelOption.of(StandardSocketOptions.SO_REUSEPORT), true);
            }
            return b;
        }

        @Override
        boolean reusePortSupported() {
            try (DatagramChannel probe = DatagramChannel.open()) {
                return probe.supportedOptions().contains(StandardSocketOptions.SO_REUSEPORT);
            } catch (IOException e) {
                return false;
            }
        }
    };

    /** Datagrams one recvmmsg may return (each gets a slice of MAX_QUERY_DATAGRAM bytes). */
    static final int DATAGRAMS_PER_READ = 16;

    /** Epoll when its native library is usable here, else NIO. */
    static DnsTransport best() {
        return Epoll.isAvailable() ? EPOLL : NIO;
    }

    /** Why the native transport did not load (e.g. no writable, executable temporary directory for its library). */
    static String whyNotEpoll() {
        Throwable cause = Epoll.unavailabilityCause();
        return cause == null ? "chosen" : "epoll unavailable: " + cause;
    }

    abstract EventLoopGroup group(int threads);

    abstract Class<? extends ServerChannel> serverChannel();

    /** Sets the datagram channel class and its receive options on {@code b}. */
    abstract Bootstrap udp(Bootstrap b, boolean reusePort);

    abstract boolean reusePortSupported();
}
