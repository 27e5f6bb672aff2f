package io.egressd.cli;

import io.egressd.config.Config;
import io.egressd.config.ConfigLoader;
import io.egressd.policy.AllowlistLoader;
import io.egressd.policy.Policy;
import io.egressd.policy.PolicyException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Where the config and allowlists come from; shared by serve and explain. */
final class PolicyOptions {

    @Option(names = "--config", paramLabel = "FILE", description = "egressd.yaml (default: built-in defaults)")
    Path config;

    @Option(names = "--allowlists", paramLabel = "DIR",
            description = "allowlist directory (default: from the config, else ./allowlists)")
    Path allowlists;

    /** The config with command-line overrides applied. */
    Config config() throws PolicyException {
        Config c = config == null ? Config.defaults() : ConfigLoader.load(config);
        return allowlists == null ? c : c.withAllowlists(allowlists);
    }

    static Policy loadPolicy(Config config) throws PolicyException {
        return AllowlistLoader.load(config.allowlists(), config.deny());
    }
}
