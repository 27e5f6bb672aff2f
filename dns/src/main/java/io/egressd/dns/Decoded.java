package io.egressd.dns;

import org.xbill.DNS.Message;

/** What a datagram or TCP frame turned out to be. */
sealed interface Decoded {

    /** A query to decide. */
    record Query(DnsQuery query) implements Decoded { }

    /** Malformed or unsupported: answer this at once, without a decision (FORMERR, NOTIMP, BADVERS). */
    record Reply(Message reply) implements Decoded { }

    /** Not worth an answer: too short to carry an ID, or a response rather than a query. */
    record Drop(String why) implements Decoded { }
}
