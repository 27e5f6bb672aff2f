package io.egressd.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.audit.AuditSchema;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** deploy/prometheus/egressd-alerts.yaml is valid, and its unit tests (egressd-alerts.test.yaml) pass. */
class AlertRulesTest {

    static final Path RULES_DIR = AuditSchema.ROOT.resolve("deploy/prometheus");

    @Test
    void promtoolCheckRulesAcceptsTheRules() throws Exception {
        Promtool.Result result = Promtool.run(RULES_DIR, null, "check", "rules", "egressd-alerts.yaml");
        assertThat(result.exit()).as(result.output()).isZero();
        assertThat(result.output()).contains("SUCCESS: 10 rules found");
    }

    @Test
    void promtoolTestRulesPasses() throws Exception {
        Promtool.Result result = Promtool.run(RULES_DIR, null, "test", "rules", "egressd-alerts.test.yaml");
        assertThat(result.exit()).as(result.output()).isZero();
        assertThat(result.output()).contains("SUCCESS").doesNotContain("FAILED");
    }

    @Test
    void everyAlertHasAUnitTest() throws Exception {
        String rules = Files.readString(RULES_DIR.resolve("egressd-alerts.yaml"));
        String tests = Files.readString(RULES_DIR.resolve("egressd-alerts.test.yaml"));
        var alerts = rules.lines().map(String::strip).filter(l -> l.startsWith("- alert: "))
                .map(l -> l.substring("- alert: ".length())).toList();
        assertThat(alerts).containsExactlyInAnyOrder("EgressdDeniedEgressSpike", "EgressdDnsDenialSpike",
                "EgressdPolicyReloadFailing", "EgressdDown", "EgressdNotReady", "EgressdAuditUnavailable",
                "EgressdReportModeWouldDeny");
        for (String alert : alerts) {
            // Each alert is tested firing (with its labels), not only staying quiet.
            assertThat(tests).as(alert).containsPattern("alertname: " + alert + "\\s+exp_alerts:\\s+- exp_labels:");
        }
    }

    @Test
    void recordingsAndAlertsShareOneGroupSoAlertsNeverLagTheirRecording() throws Exception {
        // Across groups the evaluation order is not fixed (promtool shuffles it), which made
        // the DNS spike test fail one run in three.
        String rules = Files.readString(RULES_DIR.resolve("egressd-alerts.yaml"));
        assertThat(rules.lines().filter(l -> l.strip().startsWith("- name: "))).hasSize(1);
    }
}
