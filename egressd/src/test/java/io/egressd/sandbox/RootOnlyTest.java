package io.egressd.sandbox;

import static org.assertj.core.api.Assertions.assertThat;

import io.egressd.sandbox.RootOnly.Decision;
import org.junit.jupiter.api.Test;

/** The guard of SandboxIT and ImageRunIT: run as root, fail in CI without root, skip elsewhere. */
class RootOnlyTest {

    @Test
    void rootRunsWhetherCiOrNot() {
        assertThat(RootOnly.decide("true", 0)).isEqualTo(Decision.RUN);
        assertThat(RootOnly.decide(null, 0)).isEqualTo(Decision.RUN);
        assertThat(RootOnly.decide("false", 0)).isEqualTo(Decision.RUN);
    }

    @Test
    void ciWithoutRootFails() {
        assertThat(RootOnly.decide("true", 1000)).isEqualTo(Decision.FAIL);
        assertThat(RootOnly.decide("TRUE", 10001)).isEqualTo(Decision.FAIL);
    }

    @Test
    void withoutCiAndWithoutRootSkips() {
        assertThat(RootOnly.decide(null, 1000)).isEqualTo(Decision.SKIP);
        assertThat(RootOnly.decide("", 1000)).isEqualTo(Decision.SKIP);
        assertThat(RootOnly.decide("false", 1000)).isEqualTo(Decision.SKIP);
        // Only the value CI systems set counts: "1" or "yes" is no promise that CI runs as root.
        assertThat(RootOnly.decide("1", 1000)).isEqualTo(Decision.SKIP);
    }

    @Test
    void theSkipMessageSaysHowToRunIt() {
        assertThat(SandboxIT.HOW_TO_RUN).contains("root").contains("-Dit.test=SandboxIT");
        assertThat(ImageRunIT.HOW_TO_RUN).contains("root").contains("-Dit.test=ImageRunIT");
    }
}
