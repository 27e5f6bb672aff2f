package io.egressd.proxy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import java.util.List;

/**
 * LittleProxy's activity-tracker monitors, taken out of its pipelines. Each one only tells the
 * server's {@code ActivityTracker}s about a message, and egressd registers none; but each builds
 * a flow context first (a map lookup and a lambda on every buffer and message, in both
 * directions), whether or not a tracker listens. The upstream's {@code requestWrittenMonitor}
 * stays: it also calls the request filters.
 *
 * <p>LittleProxy removes these by name only through its remove-if-present helper (tunnel and
 * WebSocket switches), so their absence is safe.
 */
final class TrackerMonitors {

    static final List<String> CLIENT = List.of("bytesReadMonitor", "bytesWrittenMonitor", "requestReadMonitor",
            "responseWrittenMonitor");
    static final List<String> UPSTREAM = List.of("bytesReadMonitor", "bytesWrittenMonitor", "responseReadMonitor");

    private TrackerMonitors() { }

    static void remove(ChannelPipeline pipeline, List<String> names) {
        for (String name : names) {
            if (pipeline.get(name) != null) {
                pipeline.remove(name);
            }
        }
    }

    /** Added at registration, after LittleProxy's initializer: removes them once that one built the pipeline. */
    static void removeFromUpstream(Channel channel) {
        channel.pipeline().addLast(new ChannelInitializer<>() {
            @Override
            protected void initChannel(Channel ch) {
                remove(ch.pipeline(), UPSTREAM);
            }
        });
    }
}
