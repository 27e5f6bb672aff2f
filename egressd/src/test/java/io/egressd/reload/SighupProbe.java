package io.egressd.reload;

import io.egressd.policy.GlobalDeny;
import io.egressd.policy.Policy;
import io.egressd.policy.ValidationError;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Run in a JVM of its own by {@link SighupTest}: loads the allowlists in args[0] with watching
 * off, installs the SIGHUP trigger, and prints every load; exits by itself after 60 s.
 */
public final class SighupProbe {

    private SighupProbe() {
    }

    public static void main(String[] args) throws Exception {
        ReloadListener print = new ReloadListener() {
            @Override
            public void loaded(Policy policy, Trigger trigger) {
                System.out.println("loaded " + trigger.code() + " " + policy.version());
            }

            @Override
            public void rejected(Policy kept, List<ValidationError> errors, Trigger trigger) {
                System.out.println("rejected " + trigger.code() + " " + kept.version() + " " + errors.size());
            }
        };
        // Never started: only SIGHUP can reload here.
        PolicyReloader reloader = PolicyReloader.load(Path.of(args[0]), GlobalDeny.BUILT_IN, print,
                ReloadSettings.DEFAULT);
        System.out.println((SighupTrigger.install(reloader) ? "ready " : "no-signals ") + ProcessHandle.current().pid());
        Thread.sleep(Duration.ofSeconds(60).toMillis());
        reloader.close();
    }
}
