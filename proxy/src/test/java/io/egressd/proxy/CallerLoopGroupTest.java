package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.util.concurrent.EventExecutor;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Upstream channels go to the loop of the client channel that opens them. */
class CallerLoopGroupTest {

    final EventLoopGroup loops = new MultiThreadIoEventLoopGroup(3, NioIoHandler.newFactory());
    final CallerLoopGroup upstream = new CallerLoopGroup(loops);

    @AfterEach
    void stop() {
        loops.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }

    @Test
    void fromALoopOfTheGroupNextIsThatLoop() throws Exception {
        for (EventExecutor loop : loops) {
            EventLoop chosen = loop.submit(upstream::next).get(5, TimeUnit.SECONDS);
            assertThat(chosen).isSameAs(loop);
        }
    }

    @Test
    void fromAnyOtherThreadNextIsSomeLoopOfTheGroup() {
        List<EventExecutor> all = new ArrayList<>();
        loops.forEach(all::add);
        for (int i = 0; i < 6; i++) {
            assertThat(all).contains(upstream.next());
        }
    }

    @Test
    void anUpstreamChannelMayHoldAFewReadsUnwrittenBeforeItsClientStopsReading() {
        Channel channel = new NioSocketChannel();
        try {
            upstream.register(channel).syncUninterruptibly();
            assertThat(channel.config().getWriteBufferHighWaterMark()).isEqualTo(256 * 1024);
            assertThat(channel.config().getWriteBufferLowWaterMark()).isEqualTo(128 * 1024);
        } finally {
            channel.close().syncUninterruptibly();
        }
    }

    @Test
    void shuttingItDownLeavesTheClientLoopsRunning() {
        upstream.shutdownGracefully(0, 1, TimeUnit.SECONDS);
        assertThat(loops.isShuttingDown()).isFalse();
    }
}
