package io.egressd.proxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

/** Only the tracker-only monitors go; the one that calls the request filters stays. */
class TrackerMonitorsTest {

    @Test
    void removesTheUpstreamTrackerMonitorsButKeepsTheFilterCallingOne() {
        EmbeddedChannel channel = new EmbeddedChannel();
        for (String name : new String[] {"bytesReadMonitor", "bytesWrittenMonitor", "responseReadMonitor",
                                         "requestWrittenMonitor", "handler"}) {
            channel.pipeline().addLast(name, new ChannelDuplexHandler());
        }
        TrackerMonitors.remove(channel.pipeline(), TrackerMonitors.UPSTREAM);
        assertThat(channel.pipeline().names()).contains("requestWrittenMonitor", "handler")
                .doesNotContain("bytesReadMonitor", "bytesWrittenMonitor", "responseReadMonitor");
        channel.finishAndReleaseAll();
    }

    @Test
    void toleratesAPipelineWithoutThem() {
        EmbeddedChannel channel = new EmbeddedChannel();
        channel.pipeline().addLast("handler", new ChannelDuplexHandler());
        TrackerMonitors.remove(channel.pipeline(), TrackerMonitors.CLIENT);
        assertThat(channel.pipeline().names()).contains("handler");
        channel.finishAndReleaseAll();
    }
}
