package io.egressd.cli;

import io.egressd.config.Config;
import io.egressd.policy.Policy;
import io.egressd.policy.PolicyException;
import io.egressd.policy.ValidationError;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** Runs the proxy and DNS filter with the loaded policy. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Run the proxy and DNS filter (defaults: proxy 127.0.0.1:3128, DNS 127.0.0.1:5053).")
final class ServeCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    PolicyOptions options;

    @Option(names = "--server", paramLabel = "NAME", description = "sidecar: every client is this server")
    String server;

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        Config config;
        Policy policy;
        try {
            config = options.config();
            if (server != null) {
                config = config.withServer(server);
            }
            policy = PolicyOptions.loadPolicy(config);
        } catch (PolicyException e) {
            e.errors().stream().map(ValidationError::toString).forEach(err::println);
            err.flush();
            return 2;
        }
        if (config.server() != null && policy.server(config.server()) == null) {
            err.println("egressd: --server " + config.server() + ": no allowlist " + config.allowlists()
                    + "/" + config.server() + ".yaml");
            err.flush();
            return 2;
        }
        err.println("egressd: serve is not available in this build yet");
        err.flush();
        return 2;
    }
}
