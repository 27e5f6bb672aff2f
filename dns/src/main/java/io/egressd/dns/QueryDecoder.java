package io.egressd.dns;

import java.net.InetSocketAddress;
import org.xbill.DNS.Header;
import org.xbill.DNS.Message;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;

/**
 * Turns client bytes into a query, or into the error answer they deserve. Hostile input is
 * expected here, so nothing it does escapes as an exception.
 */
final class QueryDecoder {

    private QueryDecoder() {
    }

    static Decoded decode(byte[] wire, InetSocketAddress client, boolean tcp) {
        if (wire.length < Header.LENGTH) {
            return new Decoded.Drop("shorter than a DNS header");
        }
        if ((wire[2] & 0x80) != 0) {
            // Never answer an answer: that is how two resolvers end up ping-ponging forever.
            return new Decoded.Drop("QR set");
        }
        Message message;
        try {
            message = new Message(wire);
        } catch (java.io.IOException | RuntimeException e) {
            return new Decoded.Reply(Replies.formatError(wire));
        }
        if (!Replies.isQuery(message.getHeader().getOpcode())) {
            return new Decoded.Reply(Replies.notImplemented(wire));
        }
        if (message.getSection(Section.QUESTION).size() != 1) {
            return new Decoded.Reply(Replies.formatError(wire));
        }
        int opts = 0;
        for (Record r : message.getSection(Section.ADDITIONAL)) {
            if (r instanceof OPTRecord) {
                opts++;
            }
        }
        if (opts > 1) {
            // RFC 6891 6.1.1: more than one OPT record is FORMERR.
            return new Decoded.Reply(Replies.formatError(wire));
        }
        DnsQuery query = new DnsQuery(message, client, tcp);
        if (query.opt() != null && query.opt().getVersion() != 0) {
            return new Decoded.Reply(Replies.badVersion(query));
        }
        return new Decoded.Query(query);
    }
}
