package io.egressd.cli;

import io.egressd.policy.AllowlistLoader;
import io.egressd.policy.GlobalDeny;
import io.egressd.policy.Policy;
import io.egressd.policy.PolicyException;
import io.egressd.policy.ServerPolicy;
import io.egressd.policy.ValidationError;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** Validates allowlists the way serve would load them, for editors, pre-commit hooks and CI. */
@Command(name = "check", mixinStandardHelpOptions = true,
        description = {"Validate allowlist files and directories.",
                "Prints one file:line:column: message line per problem and exits 1; exits 0 when all load."})
final class CheckCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "PATH", arity = "0..*", description = "allowlist files or directories (default: allowlists)")
    List<Path> paths;

    @Override
    public Integer call() {
        List<Path> targets = paths == null || paths.isEmpty() ? List.of(Path.of("allowlists")) : paths;
        PrintWriter out = spec.commandLine().getOut();
        try {
            Policy policy = AllowlistLoader.load(targets, GlobalDeny.BUILT_IN);
            for (ServerPolicy server : policy.servers().values()) {
                out.println("ok " + server.file() + ": server " + server.name() + ", " + server.mode().code() + ", "
                        + server.rules().size() + (server.rules().size() == 1 ? " rule" : " rules"));
            }
            out.flush();
            return 0;
        } catch (PolicyException e) {
            for (ValidationError error : e.errors()) {
                out.println(error);
            }
            out.flush();
            return 1;
        }
    }
}
