package io.egressd.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.sandbox.CiGuard.Decision;
import org.junit.jupiter.api.Test;

/** The guard of SandboxIT, ImageRunIT and the kubectl rendering: run when able, fail in CI when not, skip elsewhere. */
class CiGuardTest {

    @Test
    void rootRunsWhetherCiOrNot() {
        assertThat(CiGuard.decide("true", 0)).isEqualTo(Decision.RUN);
        assertThat(CiGuard.decide(null, 0)).isEqualTo(Decision.RUN);
        assertThat(CiGuard.decide("false", 0)).isEqualTo(Decision.RUN);
    }

    @Test
    void ciWithoutRootFails() {
        assertThat(CiGuard.decide("true", 1000)).isEqualTo(Decision.FAIL);
        assertThat(CiGuard.decide("TRUE", 10001)).isEqualTo(Decision.FAIL);
    }

    @Test
    void withoutCiAndWithoutRootSkips() {
        assertThat(CiGuard.decide(null, 1000)).isEqualTo(Decision.SKIP);
        assertThat(CiGuard.decide("", 1000)).isEqualTo(Decision.SKIP);
        assertThat(CiGuard.decide("false", 1000)).isEqualTo(Decision.SKIP);
        // Only the value CI systems set counts: "1" or "yes" is no promise that CI runs as root.
        assertThat(CiGuard.decide("1", 1000)).isEqualTo(Decision.SKIP);
    }

    @Test
    void aMissingToolIsDecidedTheSameWay() {
        assertThat(CiGuard.decide("true", true)).isEqualTo(Decision.RUN);
        assertThat(CiGuard.decide(null, true)).isEqualTo(Decision.RUN);
        assertThat(CiGuard.decide("true", false)).isEqualTo(Decision.FAIL);
        assertThat(CiGuard.decide(null, false)).isEqualTo(Decision.SKIP);
    }

    @Test
    void theSkipMessageSaysHowToRunIt() {
        assertThat(SandboxIT.HOW_TO_RUN).contains("root").contains("-Dit.test=SandboxIT");
        assertThat(ImageRunIT.HOW_TO_RUN).contains("root").contains("-Dit.test=ImageRunIT");
    }
}
