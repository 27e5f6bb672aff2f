package io.egressd.dns;

import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;

/** Runs a query through the service for a transport, so that no failure of ours escapes to a channel. */
final class Answers {

    private static final Logger log = LoggerFactory.getLogger(Answers.class);

    private Answers() {
    }

    /**
     * Calls {@code send} exactly once with the answer to {@code query}, or with SERVFAIL if
     * answering failed in a way the service did not expect.
     */
    static void answer(QueryService service, DnsQuery query, Executor executor, Consumer<Message> send) {
        try {
            service.answer(query, executor).whenComplete((answer, error) ->
                    deliver(error == null ? answer : failed(query, error), send));
        } catch (RuntimeException e) {
            deliver(failed(query, e), send);
        }
    }

    private static void deliver(Message answer, Consumer<Message> send) {
        try {
            send.accept(answer);
        } catch (RuntimeException e) {
            unexpected(e);
        }
    }

    private static Message failed(DnsQuery query, Throwable error) {
        unexpected(error);
        return Replies.to(query, Rcode.SERVFAIL);
    }

    private static void unexpected(Throwable error) {
        // A bug of ours, not hostile input: said at WARN without a trace, with the trace at DEBUG.
        log.warn("answering a DNS query failed: {}", error.toString());
        log.debug("answering a DNS query failed", error);
    }
}
