package io.egressd.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code egressd} command line. */
@Command(name = "egressd",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "Egress-filtering forward proxy and DNS filter for sandboxed MCP servers.",
        subcommands = {ServeCommand.class, CheckCommand.class, ExplainCommand.class, TokenCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns its exit code: 0 ok, 1 a check or decision failed, 2 bad usage. */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println("egressd: " + e.getMessage());
            return 2;
        });
        return cli.execute(args);
    }
}
