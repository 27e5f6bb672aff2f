package io.egressd.cli;

import io.egressd.config.Config;
import io.egressd.policy.Decision;
import io.egressd.policy.Destination;
import io.egressd.policy.InvalidHostException;
import io.egressd.policy.Reason;
import io.egressd.policy.Evaluation;
import io.egressd.policy.Policy;
import io.egressd.policy.PolicyException;
import io.egressd.policy.ServerPolicy;
import io.egressd.policy.ValidationError;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** Shows how the policy decides one destination for one server, without sending anything. */
@Command(name = "explain", mixinStandardHelpOptions = true,
        description = {"Show the decision for SERVER reaching DESTINATION[:PORT] (port 443 by default).",
                "Names are decided without addresses unless --resolve is given.",
                "Exits 0 when allowed, 1 when denied, 2 on bad input."})
final class ExplainCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    PolicyOptions options;

    @Option(names = "--server", required = true, paramLabel = "NAME", description = "the server asking")
    String server;

    @Option(names = "--resolve", description = "resolve names through the system resolver and vet the addresses")
    boolean resolve;

    @Parameters(index = "0", paramLabel = "DESTINATION[:PORT]",
            description = "host, host:port, IPv4, or [IPv6]:port")
    String destination;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Policy policy;
        try {
            Config config = options.config();
            policy = PolicyOptions.loadPolicy(config);
        } catch (PolicyException e) {
            e.errors().stream().map(ValidationError::toString).forEach(err::println);
            err.flush();
            return 2;
        }
        ServerPolicy sp = policy.server(server);
        if (sp == null) {
            err.println("egressd: no allowlist for server \"" + server + "\"; servers: "
                    + String.join(", ", policy.servers().keySet()));
            err.flush();
            return 2;
        }
        Destination target;
        try {
            target = Destination.parseAuthority(destination, 443);
        } catch (InvalidHostException e) {
            out.println("denied");
            out.println("server: " + sp.name() + " (" + sp.mode().code() + ", " + sp.file() + ")");
            out.println("destination: " + destination);
            out.println("reason: " + Reason.INVALID_HOST.code() + " (" + e.getMessage() + ")");
            out.println("rule: -");
            out.flush();
            return 1;
        }
        Evaluation evaluation = policy.evaluate(server, target.host(), target.port());
        Decision decision;
        String note = null;
        if (!evaluation.needsAddresses()) {
            decision = evaluation.decision();
        } else if (resolve) {
            try {
                List<InetAddress> addresses = Arrays.asList(InetAddress.getAllByName(evaluation.name()));
                out.println("resolved: " + addresses.stream().map(InetAddress::getHostAddress).toList());
                decision = evaluation.vet(addresses);
            } catch (UnknownHostException e) {
                err.println("egressd: " + evaluation.name() + " does not resolve: " + e.getMessage());
                err.flush();
                out.flush();
                return 2;
            }
        } else {
            decision = evaluation.provisional();
            note = "if " + evaluation.name() + " resolves to an address this server may reach"
                    + " (public; private with private: true; or inside a cidr rule); check with --resolve";
        }
        out.println(decision.allowed()
                ? (decision.wouldDeny() ? "allowed (report mode: enforce would deny)" : "allowed") : "denied");
        out.println("server: " + sp.name() + " (" + sp.mode().code() + ", " + sp.file() + ")");
        out.println("destination: " + decision.host() + ":" + decision.port());
        if (decision.reason() != null) {
            out.println("reason: " + decision.reason().code());
        }
        out.println("rule: " + (decision.rule() == null ? "-" : decision.rule()));
        if (decision.address() != null) {
            out.println("address: " + decision.address().getHostAddress());
        }
        if (note != null) {
            out.println("note: " + note);
        }
        out.flush();
        return decision.allowed() ? 0 : 1;
    }
}
