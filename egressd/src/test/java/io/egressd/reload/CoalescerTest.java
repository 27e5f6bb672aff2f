package io.egressd.reload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Many signals close together are one run; a signal after the run is another. */
class CoalescerTest {

    final ScheduledExecutorService executor = Executors.newSingleThreadScheduledExecutor();
    final AtomicInteger runs = new AtomicInteger();

    @AfterEach
    void stop() {
        executor.shutdownNow();
    }

    @Test
    void aBurstFromSeveralThreadsRunsOnce() throws Exception {
        Coalescer c = new Coalescer(executor, Duration.ofMillis(300), Duration.ofSeconds(5), runs::incrementAndGet);
        CountDownLatch go = new CountDownLatch(1);
        Thread[] threads = new Thread[4];
        for (int t = 0; t < threads.length; t++) {
            threads[t] = new Thread(() -> {
                try {
                    go.await();
                } catch (InterruptedException e) {
                    return;
                }
                for (int i = 0; i < 250; i++) {
                    c.signal();
                }
            });
            threads[t].start();
        }
        go.countDown();
        for (Thread t : threads) {
            t.join();
        }
        await().atMost(Duration.ofSeconds(3)).until(() -> runs.get() == 1);
        await().during(Duration.ofMillis(600)).atMost(Duration.ofSeconds(2)).until(() -> runs.get() == 1);

        c.signal();
        await().atMost(Duration.ofSeconds(3)).until(() -> runs.get() == 2);
    }

    @Test
    void aBurstThatNeverStopsStillRunsByMaxDelay() {
        Coalescer c = new Coalescer(executor, Duration.ofMillis(200), Duration.ofMillis(600), runs::incrementAndGet);
        long end = System.nanoTime() + Duration.ofMillis(1500).toNanos();
        while (System.nanoTime() < end && runs.get() == 0) {
            c.signal();
            Thread.onSpinWait();
        }
        assertThat(runs.get()).isEqualTo(1);
    }
}
