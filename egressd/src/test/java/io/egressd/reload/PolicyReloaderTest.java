package io.egressd.reload;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.egressd.audit.Samples;
import io.egressd.policy.AllowlistLoader;
import io.egressd.policy.GlobalDeny;
import io.egressd.policy.Policy;
import io.egressd.policy.PolicyException;
import io.egressd.policy.ValidationError;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

/** The live policy follows the allowlists directory; a broken edit keeps the last good policy and says why. */
class PolicyReloaderTest {

    static final String SLACK = "server: slack\nallow:\n  - host: slack.com\n    ports: [443]\n";
    static final String SLACK_AND_API = SLACK + "  - host: api.example.com\n    ports: [443]\n";
    static final String BROKEN = "server: slack\nallow:\n  - host: slack.com\n    ports: [70000]\n"
            + "  - hots: api.example.com\n";

    @TempDir
    Path dir;

    final RecordingReloadListener listener = new RecordingReloadListener();
    final ListAppender<ILoggingEvent> log = new ListAppender<>();
    final Logger reloaderLog = (Logger) LoggerFactory.getLogger(PolicyReloader.class);
    PolicyReloader reloader;

    @BeforeEach
    void captureLog() {
        log.start();
        reloaderLog.addAppender(log);
    }

    @AfterEach
    void close() {
        if (reloader != null) {
            reloader.close();
        }
        reloaderLog.detachAppender(log);
    }

    static boolean allows(Policy policy, String host) throws Exception {
        return policy.decide("slack", host, 443, name -> List.of(Samples.ip(93, 184, 216, 34))).allowed();
    }

    PolicyReloader start(Path allowlists, ReloadSettings settings) throws PolicyException {
        reloader = PolicyReloader.load(allowlists, GlobalDeny.BUILT_IN, listener, settings);
        reloader.start();
        return reloader;
    }

    static ReloadSettings settings() {
        return new ReloadSettings(Duration.ofMillis(100), Duration.ofSeconds(1), Duration.ofSeconds(1), true);
    }

    @Test
    void startupLoadIsAnnounced() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), SLACK);
        start(dir, settings());
        assertThat(allows(reloader.get(), "slack.com")).isTrue();
        assertThat(listener.events).containsExactly(new RecordingReloadListener.Event(true, Trigger.STARTUP,
                reloader.get().version(), List.of()));
    }

    @Test
    void aBrokenStartupThrowsAndAnnouncesNothing() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), BROKEN);
        assertThatThrownBy(() -> PolicyReloader.load(dir, GlobalDeny.BUILT_IN, listener, settings()))
                .isInstanceOf(PolicyException.class);
        assertThat(listener.events).isEmpty();
    }

    @Test
    void editingAnAllowlistChangesTheLivePolicyWithinTwoSeconds() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), SLACK);
        start(dir, ReloadSettings.DEFAULT);
        assertThat(allows(reloader.get(), "api.example.com")).isFalse();

        Files.writeString(dir.resolve("slack.yaml"), SLACK_AND_API);

        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
                .until(() -> allows(reloader.get(), "api.example.com"));
        assertThat(listener.loaded(Trigger.FILE)).isEqualTo(1);
    }

    @Test
    void aNewAllowlistFileIsPickedUp() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), SLACK);
        start(dir, settings());
        Files.writeString(dir.resolve("github.yaml"), "server: github\nallow:\n  - host: api.github.com\n");
        await().atMost(Duration.ofSeconds(2)).until(() -> reloader.get().server("github") != null);
    }

    @Test
    void aBrokenEditKeepsTheOldPolicyAndReportsEveryErrorAsFileLineColumn() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), SLACK);
        start(dir, settings());
        String good = reloader.get().version();
        Path file = dir.resolve("slack.yaml");
        Files.writeString(file, BROKEN);
        List<ValidationError> expected = AllowlistLoader.check(List.of(dir));
        assertThat(expected).hasSizeGreaterThanOrEqualTo(2);

        await().atMost(Duration.ofSeconds(2)).until(() -> !listener.rejections().isEmpty());

        assertThat(reloader.get().version()).isEqualTo(good);
        assertThat(allows(reloader.get(), "slack.com")).isTrue();
        RecordingReloadListener.Event rejected = listener.rejections().get(0);
        assertThat(rejected.trigger()).isEqualTo(Trigger.FILE);
        assertThat(rejected.version()).isEqualTo(good);
        assertThat(rejected.errors()).isEqualTo(expected);
        List<String> logged = log.list.stream().map(ILoggingEvent::getFormattedMessage).toList();
        for (ValidationError e : expected) {
            assertThat(logged).contains(file + ":" + e.line() + ":" + e.column() + ": " + e.message());
        }
        assertThat(logged).filteredOn(l -> l.matches(".*slack\\.yaml:\\d+:\\d+: .+")).hasSize(expected.size());

        // Fixed again: the same content as before is news now, since the last attempt failed.
        Files.writeString(file, SLACK);
        await().atMost(Duration.ofSeconds(2)).until(() -> listener.loaded(Trigger.FILE) == 1);
        assertThat(reloader.get().version()).isEqualTo(good);
    }

    @Test
    void aBrokenEditSeenByBothTheWatchServiceAndThePollIsRejectedOnce() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), SLACK);
        // A short quiet period, so the watch event's reload runs before the next poll and the poll
        // sees the change too; it must know the reload has already read it.
        start(dir, new ReloadSettings(Duration.ofMillis(10), Duration.ofSeconds(1), Duration.ofMillis(200), true));
        Files.writeString(dir.resolve("slack.yaml"), BROKEN);

        await().atMost(Duration.ofSeconds(2)).until(() -> !listener.rejections().isEmpty());
        await().during(Duration.ofMillis(1000)).atMost(Duration.ofSeconds(3))
                .until(() -> listener.rejections().size() == 1);
        assertThat(log.list.stream().map(ILoggingEvent::getFormattedMessage)
                .filter(l -> l.startsWith("policy reload (file) rejected"))).hasSize(1);
    }

    @ParameterizedTest(name = "watch service: {0}")
    @ValueSource(booleans = {true, false})
    void aConfigMapDataSwapIsPickedUp(boolean watch) throws Exception {
        // The kubelet's layout: <dir>/slack.yaml -> ..data/slack.yaml, ..data -> ..<timestamp>/
        Path v1 = Files.createDirectory(dir.resolve("..2025_11_27_09_00_00.000000001"));
        Files.writeString(v1.resolve("slack.yaml"), SLACK);
        Files.createSymbolicLink(dir.resolve("..data"), v1.getFileName());
        Files.createSymbolicLink(dir.resolve("slack.yaml"), Path.of("..data/slack.yaml"));
        ReloadSettings d = ReloadSettings.DEFAULT;
        start(dir, new ReloadSettings(d.quiet(), d.maxDelay(), d.pollInterval(), watch));
        assertThat(allows(reloader.get(), "api.example.com")).isFalse();

        // An update: a new timestamped directory, ..data_tmp pointing at it, renamed over ..data, the old one removed.
        Path v2 = Files.createDirectory(dir.resolve("..2025_11_27_09_05_00.000000002"));
        Files.writeString(v2.resolve("slack.yaml"), SLACK_AND_API);
        Files.createSymbolicLink(dir.resolve("..data_tmp"), v2.getFileName());
        Files.move(dir.resolve("..data_tmp"), dir.resolve("..data"), StandardCopyOption.ATOMIC_MOVE);
        Files.delete(v1.resolve("slack.yaml"));
        Files.delete(v1);

        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
                .until(() -> allows(reloader.get(), "api.example.com"));
        assertThat(listener.rejections()).isEmpty();
    }

    @Test
    void pollingAloneNoticesChangesWhereNoEventsArrive() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), SLACK);
        start(dir, new ReloadSettings(Duration.ofMillis(100), Duration.ofSeconds(1), Duration.ofMillis(200), false));
        Files.writeString(dir.resolve("slack.yaml"), SLACK_AND_API);
        await().atMost(Duration.ofSeconds(2)).until(() -> allows(reloader.get(), "api.example.com"));
    }

    @Test
    void withoutAWatchServicePollingAloneReloads() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), SLACK);
        // What inotify limits do: newWatchService() fails. Default settings: a poll every second.
        AtomicInteger asked = new AtomicInteger();
        ListAppender<ILoggingEvent> watcherLog = new ListAppender<>();
        watcherLog.start();
        Logger watcherLogger = (Logger) LoggerFactory.getLogger(DirectoryWatcher.class);
        watcherLogger.addAppender(watcherLog);
        try {
            reloader = PolicyReloader.load(dir, GlobalDeny.BUILT_IN, listener, ReloadSettings.DEFAULT, d -> {
                asked.incrementAndGet();
                throw new IOException("User limit of inotify instances reached or too many open files");
            });
            reloader.start();
        } finally {
            watcherLogger.detachAppender(watcherLog);
        }
        assertThat(asked).hasValue(1);
        assertThat(watcherLog.list).extracting(ILoggingEvent::getFormattedMessage).singleElement().asString()
                .startsWith("cannot watch " + dir).contains("inotify").endsWith("polling it every 1000 ms");

        Files.writeString(dir.resolve("slack.yaml"), SLACK_AND_API);
        // A poll a second and the quiet period: about 1.3 s; the bound leaves room for a loaded machine.
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(20))
                .until(() -> allows(reloader.get(), "api.example.com"));
        assertThat(listener.loaded(Trigger.FILE)).isEqualTo(1);
    }

    @Test
    void aBurstOfChangesIsOneReload() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), SLACK);
        start(dir, new ReloadSettings(Duration.ofMillis(1000), Duration.ofSeconds(5), Duration.ofMillis(300), true));
        for (int i = 0; i < 20; i++) {
            Files.writeString(dir.resolve("slack.yaml"), SLACK + "  - host: h" + i + ".example.com\n");
        }
        Files.writeString(dir.resolve("slack.yaml"), SLACK_AND_API);

        await().atMost(Duration.ofSeconds(5)).until(() -> allows(reloader.get(), "api.example.com"));
        // Later polls and events see nothing new: still the one reload.
        await().during(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3))
                .until(() -> listener.loaded(Trigger.FILE) == 1);
        assertThat(listener.rejections()).isEmpty();
    }

    @Test
    void aReloadThatFindsNothingNewIsSilentUnlessRequested() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), SLACK);
        reloader = PolicyReloader.load(dir, GlobalDeny.BUILT_IN, listener, settings());
        Policy before = reloader.get();

        ReloadOutcome file = reloader.reload(Trigger.FILE).get(10, TimeUnit.SECONDS);
        assertThat(file.changed()).isFalse();
        assertThat(file.policy()).isSameAs(before);

        ReloadOutcome signal = reloader.reload(Trigger.SIGNAL).get(10, TimeUnit.SECONDS);
        assertThat(signal.changed()).isTrue();
        assertThat(signal.rejected()).isFalse();
        assertThat(listener.loaded(Trigger.SIGNAL)).isEqualTo(1);
        assertThat(reloader.get().version()).isEqualTo(before.version());
    }

    @Test
    void aRequestedReloadOfBrokenFilesReportsTheErrors() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), SLACK);
        reloader = PolicyReloader.load(dir, GlobalDeny.BUILT_IN, listener, settings());
        Files.writeString(dir.resolve("slack.yaml"), BROKEN);
        ReloadOutcome outcome = reloader.reload(Trigger.SIGNAL).get(10, TimeUnit.SECONDS);
        assertThat(outcome.rejected()).isTrue();
        assertThat(outcome.errors()).isEqualTo(AllowlistLoader.check(List.of(dir)));
        assertThat(listener.rejections()).hasSize(1);
    }

    @Test
    void reloadAfterCloseFails() throws Exception {
        Files.writeString(dir.resolve("slack.yaml"), SLACK);
        reloader = PolicyReloader.load(dir, GlobalDeny.BUILT_IN, listener, settings());
        reloader.close();
        assertThatThrownBy(() -> reloader.reload(Trigger.SIGNAL).get()).isInstanceOf(ExecutionException.class);
    }
}
