package io.egressd.proxy;

import io.egressd.policy.ConnectionCount;

import java.time.Duration;

/** What every connection's gate shares: immutable, or safe to use from any I/O thread. */
record GateConfig(RequestDecider decider, GuardedListener listener, Duration connectTimeout,
                  ConnectionCount connections, Duration headerTimeout,
                  ServerLimits serverLimits) {
}
