package io.egressd.dns;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Admits a DNS TCP connection before it reads a byte: its source must be a known client and it
 * must fit under the global and per-source connection limits; otherwise it is closed unread and
 * never counted. One instance per connection, sharing one {@link Limits}.
 */
final class TcpAdmission extends ChannelInboundHandlerAdapter {

    private static final Logger log = LoggerFactory.getLogger(TcpAdmission.class);

    /** TCP connections held now, in all and by source; shared by every connection's handler. */
    static final class Limits {
        private final int max;
        private final int maxPerSource;
        private final AtomicInteger open = new AtomicInteger();
        private final ConcurrentHashMap<InetAddress, Integer> bySource = new ConcurrentHashMap<>();

        Limits(int max, int maxPerSource) {
            this.max = max;
            this.maxPerSource = maxPerSource;
        }

        boolean admit(InetAddress source) {
            if (open.incrementAndGet() > max) {
                open.decrementAndGet();
                return false;
            }
            boolean[] fits = {false};
            bySource.compute(source, (address, held) -> {
                int now = held == null ? 0 : held;
                if (now >= maxPerSource) {
                    return held;
                }
                fits[0] = true;
                return now + 1;
            });
            if (!fits[0]) {
                open.decrementAndGet();
            }
            return fits[0];
        }

        void release(InetAddress source) {
            bySource.computeIfPresent(source, (address, held) -> held <= 1 ? null : held - 1);
            open.decrementAndGet();
        }

        int open() {
            return open.get();
        }
    }

    private final Limits limits;
    private final Predicate<InetAddress> known;
    private InetAddress counted;

    TcpAdmission(Limits limits, Predicate<InetAddress> known) {
        this.limits = limits;
        this.known = known;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        InetAddress source = ctx.channel().remoteAddress() instanceof InetSocketAddress a ? a.getAddress() : null;
        boolean admitted = false;
        try {
            admitted = source != null && known.test(source) && limits.admit(source);
        } catch (RuntimeException e) {
            log.warn("cannot identify DNS TCP client {}; closing", source, e);
        }
        if (!admitted) {
            log.debug("closing DNS TCP connection from {} at accept: unknown client or over the limits", source);
            ctx.channel().config().setAutoRead(false);
            ctx.executor().execute(ctx::close);
            return;
        }
        counted = source;
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
        if (counted != null) {
            limits.release(counted);
            counted = null;
        }
    }
}
