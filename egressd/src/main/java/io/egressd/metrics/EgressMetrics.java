package io.egressd.metrics;

import io.egressd.audit.AuditEvent;
import io.egressd.audit.AuditHealth;
import io.egressd.policy.Decision;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Front;
import io.egressd.policy.Policy;
import io.egressd.policy.Protocol;
import io.egressd.policy.Rejection;
import io.egressd.policy.ValidationError;
import io.egressd.reload.ReloadListener;
import io.egressd.reload.Trigger;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;

/**
 * The egressd metrics of design.md section 8 (docs/metrics.md lists them), fed by the fronts
 * through {@link EgressListener}, by the reloader through {@link ReloadListener}, and by the
 * audit sink through {@link #audited(AuditEvent)}. Every call counts exactly once.
 */
public final class EgressMetrics implements EgressListener, ReloadListener {

    // equals and hashCode by hand: a record's generated ones go through invokedynamic
    // (ObjectMethods), which C1, the JIT egressd ships with, runs several times slower, and these
    // keys are built and looked up on every request and query. Label values are few, short strings.

    private record DecisionKey(String server, String protocol, String decision, String reason) {
        @Override
        public boolean equals(Object o) {
            return o instanceof DecisionKey k && server.equals(k.server) && protocol.equals(k.protocol)
                    && decision.equals(k.decision) && reason.equals(k.reason);
        }

        @Override
        public int hashCode() {
            return ((server.hashCode() * 31 + protocol.hashCode()) * 31 + decision.hashCode()) * 31
                    + reason.hashCode();
        }
    }

    private record QueryKey(String server, String decision, String qtype) {
        @Override
        public boolean equals(Object o) {
            return o instanceof QueryKey k && server.equals(k.server) && decision.equals(k.decision)
                    && qtype.equals(k.qtype);
        }

        @Override
        public int hashCode() {
            return (server.hashCode() * 31 + decision.hashCode()) * 31 + qtype.hashCode();
        }
    }

    private record ConnectionKey(String server, String protocol) {
        @Override
        public boolean equals(Object o) {
            return o instanceof ConnectionKey k && server.equals(k.server) && protocol.equals(k.protocol);
        }

        @Override
        public int hashCode() {
            return server.hashCode() * 31 + protocol.hashCode();
        }
    }

    /** What each listener can close a connection for, before or without a decision; all counted from 0. */
    static final Map<Front, List<Rejection>> REJECTIONS = Map.of(
            Front.HTTP, List.of(Rejection.MAX_CONNECTIONS, Rejection.MAX_CONNECTIONS_PER_SOURCE,
                    Rejection.HEADER_TIMEOUT, Rejection.IDLE_TIMEOUT),
            Front.SOCKS5, List.of(Rejection.MAX_CONNECTIONS, Rejection.MAX_CONNECTIONS_PER_SOURCE,
                    Rejection.IDLE_TIMEOUT),
            Front.FORWARD, List.of(Rejection.MAX_CONNECTIONS, Rejection.MAX_CONNECTIONS_PER_SOURCE,
                    Rejection.IDLE_TIMEOUT),
            Front.DNS_TCP, List.of(Rejection.MAX_CONNECTIONS, Rejection.MAX_CONNECTIONS_PER_SOURCE,
                    Rejection.FRAME_TIMEOUT, Rejection.IDLE_TIMEOUT));

    /** The histogram buckets of egressd_upstream_connect_seconds: loopback to a slow far-away upstream. */
    static final Duration[] CONNECT_BUCKETS = {
        Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(10), Duration.ofMillis(25),
        Duration.ofMillis(50), Duration.ofMillis(100), Duration.ofMillis(250), Duration.ofMillis(500),
        Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5), Duration.ofSeconds(10),
    };

    private final MeterRegistry registry;
    private final Clock clock;
    // Meters cached per label set: a registry lookup builds a Meter.Id per call, a map hit does not;
    // computeIfAbsent makes the first registration of a label set race-free.
    private final ConcurrentMap<DecisionKey, Counter> decisions = new ConcurrentHashMap<>();
    private final ConcurrentMap<QueryKey, Counter> queries = new ConcurrentHashMap<>();
    private final ConcurrentMap<ConnectionKey, AtomicLong> active = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Counter[]> bytes = new ConcurrentHashMap<>();
    private final Map<AuditEvent, Counter> auditEvents = new EnumMap<>(AuditEvent.class);
    private final Counter reloadSuccess;
    private final Counter reloadFailure;
    // Epoch milliseconds; AtomicLong so the scrape thread reads what the reload thread wrote.
    private final AtomicLong lastSuccessMillis = new AtomicLong();
    private final AtomicLong lastFailureMillis = new AtomicLong();
    private final Timer upstreamConnect;
    private final Map<Front, Map<Rejection, Counter>> rejected = new EnumMap<>(Front.class);
    private final Counter droppedQueries;

    public EgressMetrics(MeterRegistry registry, Clock clock) {
        this.registry = registry;
        this.clock = clock;
        // Registered up front at 0, so rate() and increase() see the first event and the series exist for alerts.
        for (AuditEvent event : AuditEvent.values()) {
            auditEvents.put(event, Counter.builder("egressd.audit.events").tag("event", event.code())
                    .description("Audit events written, by event").register(registry));
        }
        reloadSuccess = reloads("success");
        reloadFailure = reloads("failure");
        Gauge.builder("egressd.policy.last.success.timestamp", lastSuccessMillis, a -> a.get() / 1000.0)
                .baseUnit("seconds").description("When a policy was last loaded (startup or reload), Unix time")
                .register(registry);
        Gauge.builder("egressd.policy.last.failure.timestamp", lastFailureMillis, a -> a.get() / 1000.0)
                .baseUnit("seconds").description("When a policy reload was last rejected, Unix time; 0 if never")
                .register(registry);
        upstreamConnect = Timer.builder("egressd.upstream.connect")
                .description("Time to open the TCP connection to the vetted upstream address")
                .serviceLevelObjectives(CONNECT_BUCKETS)
                .register(registry);
        REJECTIONS.forEach((front, reasons) -> {
            Map<Rejection, Counter> byReason = new EnumMap<>(Rejection.class);
            for (Rejection why : reasons) {
                byReason.put(why, Counter.builder("egressd.connections.rejected").tag("listener", front.code())
                        .tag("reason", why.code())
                        .description("Client connections closed at accept or by a timeout, before a decision")
                        .register(registry));
            }
            rejected.put(front, byReason);
        });
        droppedQueries = Counter.builder("egressd.dns.queries.dropped").tag("reason", Rejection.RATE_LIMITED.code())
                .description("UDP DNS queries dropped unanswered: their source was over its query rate")
                .register(registry);
    }

    private Counter reloads(String result) {
        return Counter.builder("egressd.policy.reloads").tag("result", result)
                .description("Policy reloads after startup, by result (success, failure)").register(registry);
    }

    /** Reports readiness as egressd_ready (1 ready, 0 not), so an alert can see what /readyz says. */
    public void bindReadiness(BooleanSupplier ready) {
        Gauge.builder("egressd.ready", ready, r -> r.getAsBoolean() ? 1 : 0)
                .description("1 when /readyz answers 200 (policy loaded, listeners bound), else 0")
                .strongReference(true).register(registry);
    }

    /**
     * Reports the audit output's state: egressd_audit_healthy (1 written, 0 failing),
     * egressd_audit_write_failures_total and egressd_audit_lines_lost_total.
     */
    public void bindAuditHealth(AuditHealth health) {
        Gauge.builder("egressd.audit.healthy", health, h -> h.healthy() ? 1 : 0)
                .description("1 while the audit output is written, 0 while writing it fails")
                .strongReference(true).register(registry);
        FunctionCounter.builder("egressd.audit.write.failures", health, AuditHealth::failedWrites)
                .description("Attempts to write an audit line that failed (retries included)").register(registry);
        FunctionCounter.builder("egressd.audit.lines.lost", health, AuditHealth::lostLines)
                .description("Audit lines given up after a failed write").register(registry);
    }

    /** Allowed connections open now, over every server and protocol. */
    public long activeConnections() {
        long sum = 0;
        for (AtomicLong open : active.values()) {
            sum += open.get();
        }
        return sum;
    }

    /** How long connecting to an upstream took; the fronts call it once per connect attempt that completed. */
    public void upstreamConnected(Duration took) {
        upstreamConnect.record(took);
    }

    /** One audit line was written. */
    public void audited(AuditEvent event) {
        auditEvents.get(event).increment();
    }

    @Override
    public void decided(Protocol protocol, InetSocketAddress client, Decision decision) {
        String server = Labels.server(decision);
        String proto = Labels.protocol(protocol);
        count(server, proto, decision);
        if (decision.allowed()) {
            connections(server, proto).incrementAndGet();
        }
    }

    @Override
    public void closed(Protocol protocol, InetSocketAddress client, Decision decision,
                       long bytesSent, long bytesReceived, long durationMillis) {
        String server = Labels.server(decision);
        connections(server, Labels.protocol(protocol)).decrementAndGet();
        Counter[] sentReceived = bytes.get(server);
        if (sentReceived == null) {
            sentReceived = bytes.computeIfAbsent(server, s -> new Counter[] {bytes(s, "sent"), bytes(s, "received")});
        }
        sentReceived[0].increment(Math.max(0, bytesSent));
        sentReceived[1].increment(Math.max(0, bytesReceived));
    }

    @Override
    public void queried(InetSocketAddress client, Decision decision, String qname, String qtype, String rcode) {
        String server = Labels.server(decision);
        String outcome = Labels.decision(decision);
        QueryKey key = new QueryKey(server, outcome, Labels.qtype(qtype));
        // get first: computeIfAbsent's lambda captures this, an allocation on every call.
        Counter counter = queries.get(key);
        if (counter == null) {
            counter = queries.computeIfAbsent(key, k ->
                    Counter.builder("egressd.dns.queries").tag("server", k.server).tag("decision", k.decision)
                            .tag("qtype", k.qtype).description("DNS queries answered, by decision and query type")
                            .register(registry));
        }
        counter.increment();
        count(server, Protocol.DNS.code(), decision);
    }

    @Override
    public void rejected(Front front, Rejection why) {
        Counter counter = rejected.getOrDefault(front, Map.of()).get(why);
        if (counter != null) {
            counter.increment();
        }
    }

    @Override
    public void queryDropped(Rejection why) {
        if (why == Rejection.RATE_LIMITED) {
            droppedQueries.increment();
        }
    }

    @Override
    public void loaded(Policy policy, Trigger trigger) {
        lastSuccessMillis.set(clock.millis());
        if (trigger != Trigger.STARTUP) {
            reloadSuccess.increment();
        }
    }

    @Override
    public void rejected(Policy kept, List<ValidationError> errors, Trigger trigger) {
        lastFailureMillis.set(clock.millis());
        if (trigger != Trigger.STARTUP) {
            reloadFailure.increment();
        }
    }

    private void count(String server, String protocol, Decision decision) {
        DecisionKey key = new DecisionKey(server, protocol, Labels.decision(decision), Labels.reason(decision));
        Counter counter = decisions.get(key);
        if (counter == null) {
            counter = decisions.computeIfAbsent(key,
                    k -> Counter.builder("egressd.decisions").tag("server", k.server).tag("protocol", k.protocol)
                            .tag("decision", k.decision).tag("reason", k.reason)
                            .description("Egress decisions (connections and DNS queries), by outcome and reason")
                            .register(registry));
        }
        counter.increment();
    }

    private AtomicLong connections(String server, String protocol) {
        ConnectionKey key = new ConnectionKey(server, protocol);
        AtomicLong open = active.get(key);
        if (open != null) {
            return open;
        }
        return active.computeIfAbsent(key, k -> {
            AtomicLong value = new AtomicLong();
            // The map holds the AtomicLong strongly; Micrometer holds gauge objects only weakly.
            Gauge.builder("egressd.connections.active", value, AtomicLong::get).tag("server", k.server)
                    .tag("protocol", k.protocol).description("Allowed connections open now")
                    .register(registry);
            return value;
        });
    }

    private Counter bytes(String server, String direction) {
        return Counter.builder("egressd.bytes").baseUnit("bytes").tag("server", server).tag("direction", direction)
                .description("Bytes through closed connections; sent = client to upstream")
                .register(registry);
    }
}
