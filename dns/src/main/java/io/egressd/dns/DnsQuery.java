package io.egressd.dns;

import java.net.InetSocketAddress;
import org.xbill.DNS.Message;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Record;

/**
 * A well-formed query from a client: one question, opcode QUERY.
 *
 * @param message the parsed query, whose ID, flags and question the answer echoes
 * @param client  where it came from, which identifies the server asking
 * @param tcp     whether it came over TCP (answers are then never truncated below 64 KiB)
 * @param qname   the question's name as asked (case kept, no trailing dot), made once per query
 */
record DnsQuery(Message message, InetSocketAddress client, boolean tcp, String qname) {

    DnsQuery(Message message, InetSocketAddress client, boolean tcp) {
        this(message, client, tcp, message.getQuestion().getName().toString(true));
    }

    /** Without EDNS a UDP answer is at most 512 bytes (RFC 1035 4.2.1). */
    static final int CLASSIC_UDP_SIZE = 512;
    /** What we advertise and honour at most: the DNS flag day 2020 size that avoids IP fragmentation. */
    static final int MAX_UDP_SIZE = 1232;
    static final int MAX_TCP_SIZE = 65535;

    Record question() {
        return message.getQuestion();
    }

    OPTRecord opt() {
        return message.getOPT();
    }

    /** The largest answer this client takes over its transport before it must be truncated with TC. */
    int maxAnswerSize() {
        if (tcp) {
            return MAX_TCP_SIZE;
        }
        OPTRecord opt = opt();
        if (opt == null) {
            return CLASSIC_UDP_SIZE;
        }
        return Math.max(CLASSIC_UDP_SIZE, Math.min(opt.getPayloadSize(), MAX_UDP_SIZE));
    }
}
