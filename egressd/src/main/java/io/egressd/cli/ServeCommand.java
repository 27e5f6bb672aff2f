package io.egressd.cli;

import io.egressd.config.Config;
import io.egressd.daemon.Daemon;
import io.egressd.policy.PolicyException;
import io.egressd.policy.ValidationError;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import java.util.concurrent.Callable;

/** Runs the proxy and DNS filter with the loaded policy until SIGTERM or SIGINT. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Run the proxy and DNS filter (defaults: proxy 127.0.0.1:3128, DNS 127.0.0.1:5053).",
                "Prints one line on stderr once every listener accepts connections.",
                "Exits 2 before listening when the config or an allowlist is invalid."})
final class ServeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    PolicyOptions options;

    @Option(names = "--server", paramLabel = "NAME", description = "sidecar: every client is this server")
    String server;

    @Override
    public Integer call() throws InterruptedException {
        PrintWriter err = spec.commandLine().getErr();
        Daemon daemon;
        Config config;
        try {
            config = options.config();
            if (server != null) {
                config = config.withServer(server);
            }
            daemon = Daemon.start(config, System.err);
        } catch (PolicyException e) {
            e.errors().stream().map(ValidationError::toString).forEach(err::println);
            err.flush();
            return 2;
        } catch (UncheckedIOException | IllegalArgumentException | IllegalStateException e) {
            err.println("egressd: " + e.getMessage());
            err.flush();
            return 2;
        }
        Duration grace = config.limits().shutdownGrace();
        CountDownLatch stop = new CountDownLatch(1);
        // Backstop for any other exit (and for a JVM that will not let us handle signals): close at once.
        Runtime.getRuntime().addShutdownHook(new Thread(daemon::close, "egressd-shutdown"));
        // Where signals cannot be handled (-Xrs) nothing counts stop down: the wait lasts until the
        // JVM's own SIGTERM handling runs the hook.
        StopSignals.install(stop::countDown);
        err.println(daemon.readyLine());
        err.flush();
        stop.await();
        err.println("egressd: stopping: closing the listeners, waiting up to " + format(grace) + " for "
                + daemon.openConnections() + " open connections");
        err.flush();
        long cut = daemon.shutdown(grace);
        err.println("egressd: stopped" + (cut > 0 ? "; closed " + cut + " connections still open at the grace" : ""));
        err.flush();
        return 0;
    }

    private static String format(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + "s" : d.toMillis() + "ms";
    }
}
