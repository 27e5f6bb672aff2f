package io.egressd.dns;

import io.egressd.policy.Decision;
import io.egressd.policy.EgressListener;
import io.egressd.policy.Evaluation;
import io.egressd.policy.Identity;
import io.egressd.policy.LearnedAddresses;
import io.egressd.policy.Policy;
import io.egressd.policy.Reason;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * Decides one query and produces its answer: who is asking, whether the type and the name are
 * allowed, then the cached or forwarded upstream answer with its addresses filtered. A refused
 * query is answered here and never leaves the machine. Every query is reported to the listener.
 */
final class QueryService {

    private static final Logger log = LoggerFactory.getLogger(QueryService.class);

    /** What an allowed name may be asked for (issue 4); ANY, PTR and everything else are refused. */
    static final Set<Integer> ALLOWED_TYPES = Set.of(
            Type.A, Type.AAAA, Type.CNAME, Type.HTTPS, Type.SVCB, Type.TXT, Type.MX, Type.SRV);

    private final String boundServer;
    private final int denyRcode;
    private final Supplier<Policy> policies;
    private final EgressListener listener;
    private final AnswerCache cache;
    private final Forwarder forwarder;
    /** Told which addresses each server was given, for the SOCKS5 front's IP-literal decisions; may be null. */
    private final LearnedAddresses learned;
    // Identical questions in flight share one upstream exchange, so a burst for one name costs
    // upstream one query; a concurrent map because the event loops of every channel meet here.
    private final ConcurrentMap<QuestionKey, CompletableFuture<UpstreamAnswer>> inFlight =
            new ConcurrentHashMap<>();

    QueryService(String boundServer, DenyRcode denyRcode, Supplier<Policy> policies, EgressListener listener,
                 AnswerCache cache, Forwarder forwarder) {
        this(boundServer, denyRcode, policies, listener, cache, forwarder, null);
    }

    QueryService(String boundServer, DenyRcode denyRcode, Supplier<Policy> policies, EgressListener listener,
                 AnswerCache cache, Forwarder forwarder, LearnedAddresses learned) {
        this.learned = learned;
        this.boundServer = boundServer;
        this.denyRcode = denyRcode.value();
        this.policies = policies;
        this.listener = listener;
        this.cache = cache;
        this.forwarder = forwarder;
    }

    /**
     * The answer to {@code query}. Refusals and cache hits complete at once on the caller's
     * thread; forwarded queries complete on {@code executor} (the channel's event loop).
     */
    CompletableFuture<Message> answer(DnsQuery query, Executor executor) {
        // Read once: a reload in the middle of a query never mixes two policies.
        Policy policy = policies.get();
        Record question = query.question();
        String qname = query.qname();
        int qtype = question.getType();
        Identity identity = policy.identify(boundServer, null, null, query.client().getAddress());
        if (!identity.known()) {
            return refuse(query, policy.refusal(identity.failure(), null, qname, 0), Rcode.REFUSED);
        }
        if (question.getDClass() != DClass.IN || !ALLOWED_TYPES.contains(qtype)) {
            // REFUSED whatever deny_rcode says: NXDOMAIN would also deny the name's other types.
            return refuse(query, policy.refusal(Reason.QTYPE_NOT_ALLOWED, identity.server(), qname, 0),
                    Rcode.REFUSED);
        }
        Evaluation evaluation = policy.evaluateQuery(identity.server(), qname);
        if (!evaluation.needsAddresses()) {
            return refuse(query, evaluation.decision(), denyRcode);
        }
        QuestionKey key = new QuestionKey(evaluation.name(), qtype, DClass.IN);
        UpstreamAnswer cached = cache.get(key);
        if (cached != null) {
            return CompletableFuture.completedFuture(allow(query, identity.server(), evaluation, cached));
        }
        Executor loop = Forwarder.orInline(executor);
        return lookup(key, loop).handleAsync((answer, error) -> {
            if (error != null) {
                log.debug("SERVFAIL for {}/{}: {}", key.name(), Type.string(qtype), error.getMessage());
                return finish(query, evaluation.provisional(), Rcode.SERVFAIL);
            }
            return allow(query, identity.server(), evaluation, answer);
        }, loop);
    }

    private CompletableFuture<UpstreamAnswer> lookup(QuestionKey key, Executor executor) {
        CompletableFuture<UpstreamAnswer> mine = new CompletableFuture<>();
        CompletableFuture<UpstreamAnswer> shared = inFlight.putIfAbsent(key, mine);
        if (shared != null) {
            return shared;
        }
        Name name;
        try {
            name = Name.fromString(key.name(), Name.root);
        } catch (TextParseException e) {
            // Unreachable for a canonical name; fail this one query rather than the channel.
            inFlight.remove(key, mine);
            mine.completeExceptionally(e);
            return mine;
        }
        forwarder.forward(name, key.type(), executor).whenComplete((response, error) -> {
            if (error != null) {
                inFlight.remove(key, mine);
                mine.completeExceptionally(error);
                return;
            }
            UpstreamAnswer answer = UpstreamAnswer.of(response, name, key.type(), cache.now());
            // Cache before leaving the in-flight table, so a query arriving in between finds one or the other.
            cache.put(key, answer);
            inFlight.remove(key, mine);
            mine.complete(answer);
        });
        return mine;
    }

    private Message allow(DnsQuery query, String server, Evaluation evaluation, UpstreamAnswer answer) {
        AnswerFilter.Filtered filtered = AnswerFilter.apply(answer.answers(), evaluation);
        long age = answer.ageSeconds(cache.now());
        Message reply = Replies.to(query, answer.rcode());
        for (Record r : UpstreamAnswer.aged(filtered.records(), age)) {
            reply.addRecord(r, Section.ANSWER);
            remember(server, evaluation.name(), r);
        }
        for (Record r : UpstreamAnswer.aged(answer.authority(), age)) {
            reply.addRecord(r, Section.AUTHORITY);
        }
        if (filtered.removed() > 0) {
            log.debug("removed {} of {} addresses from the answer for {}", filtered.removed(),
                    filtered.offered().size(), evaluation.name());
        }
        // With addresses, the decision is the proxy's: address_not_allowed when none survived.
        List<java.net.InetAddress> offered = filtered.offered();
        Decision decision = offered.isEmpty() ? evaluation.provisional() : evaluation.vet(offered);
        report(query, decision, answer.rcode());
        return reply;
    }

    /** An address this server was just given for an allowed name, valid for as long as the client may use it. */
    private void remember(String server, String name, Record r) {
        if (learned == null) {
            return;
        }
        if (r instanceof ARecord a) {
            learned.learned(server, name, a.getAddress(), a.getTTL());
        } else if (r instanceof AAAARecord aaaa) {
            learned.learned(server, name, aaaa.getAddress(), aaaa.getTTL());
        }
    }

    private CompletableFuture<Message> refuse(DnsQuery query, Decision decision, int rcode) {
        return CompletableFuture.completedFuture(finish(query, decision, rcode));
    }

    private Message finish(DnsQuery query, Decision decision, int rcode) {
        report(query, decision, rcode);
        return Replies.to(query, rcode);
    }

    private void report(DnsQuery query, Decision decision, int rcode) {
        Record question = query.question();
        try {
            // The name as asked, case kept (decision.host() is lower-cased): a label may be data, e.g. base64.
            listener.queried(query.client(), decision, query.qname(),
                    Type.string(question.getType()), Rcode.string(rcode));
        } catch (RuntimeException e) {
            // A broken listener must not cost the client its answer.
            log.warn("egress listener failed on a DNS query: {}", e.toString());
        }
    }
}
