package io.egressd.proxy;

import io.egressd.policy.EgressListener;
import java.time.Duration;

/** What every connection's gate shares: immutable, or safe to use from any I/O thread. */
record GateConfig(RequestDecider decider, EgressListener listener, Duration connectTimeout,
                  ConnectionCount connections) {
}
