package io.egressd.cli;

import io.egressd.config.Config;
import io.egressd.daemon.Daemon;
import io.egressd.policy.PolicyException;
import io.egressd.policy.ValidationError;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
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
        try {
            Config config = options.config();
            if (server != null) {
                config = config.withServer(server);
            }
            daemon = Daemon.start(config);
        } catch (PolicyException e) {
            e.errors().stream().map(ValidationError::toString).forEach(err::println);
            err.flush();
            return 2;
        } catch (UncheckedIOException | IllegalArgumentException | IllegalStateException e) {
            err.println("egressd: " + e.getMessage());
            err.flush();
            return 2;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            daemon.close();
            stopped.countDown();
        }, "egressd-shutdown"));
        err.println(daemon.readyLine());
        err.flush();
        stopped.await();
        return 0;
    }
}
