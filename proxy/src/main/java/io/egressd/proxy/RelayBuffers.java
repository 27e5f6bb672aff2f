package io.egressd.proxy;

import io.netty.channel.Channel;
import io.netty.channel.WriteBufferWaterMark;

/**
 * How much a proxy channel may hold unwritten before LittleProxy stops reading the other side.
 * Netty's default (32-64 KiB) is one socket read (up to 64 KiB): a bulk tunnel then flips
 * between writable and saturated on nearly every read, and each flip stops or resumes reading
 * on the other channel (an epoll change each time). A few reads' worth keeps a fast transfer
 * flowing; a slow reader still stops its upstream after 256 KiB.
 */
final class RelayBuffers {

    static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(128 * 1024, 256 * 1024);

    private RelayBuffers() {
    }

    static void apply(Channel channel) {
        channel.config().setWriteBufferWaterMark(WATER_MARK);
    }
}
