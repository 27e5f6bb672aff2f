package io.egressd.dns;

import org.xbill.DNS.Flags;
import org.xbill.DNS.Header;
import org.xbill.DNS.Message;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Section;

/** Builds answer skeletons that echo a query the way RFC 1035 and RFC 6891 ask. */
final class Replies {

    private Replies() {
    }

    /**
     * An answer with {@code rcode} and no records yet: the query's ID, opcode, RD and question,
     * QR and RA set, and an OPT record only when the query carried one.
     */
    static Message to(DnsQuery query, int rcode) {
        Header asked = query.message().getHeader();
        Message reply = new Message(asked.getID());
        Header header = reply.getHeader();
        header.setOpcode(asked.getOpcode());
        header.setFlag(Flags.QR);
        header.setFlag(Flags.RA);
        if (asked.getFlag(Flags.RD)) {
            header.setFlag(Flags.RD);
        }
        if (asked.getFlag(Flags.CD)) {
            header.setFlag(Flags.CD);
        }
        header.setRcode(rcode);
        reply.addRecord(query.question(), Section.QUESTION);
        if (query.opt() != null) {
            reply.addRecord(ourOpt(0), Section.ADDITIONAL);
        }
        return reply;
    }

    /** FORMERR for a message that did not parse: only the header fields that can be trusted are echoed. */
    static Message formatError(byte[] wire) {
        return headerOnly(wire, Rcode.FORMERR);
    }

    /** NOTIMP for an opcode other than QUERY. */
    static Message notImplemented(byte[] wire) {
        return headerOnly(wire, Rcode.NOTIMP);
    }

    /** BADVERS (RFC 6891 6.1.3) for an EDNS version we do not speak; it needs an OPT record to carry it. */
    static Message badVersion(DnsQuery query) {
        Message reply = to(query, Rcode.NOERROR);
        reply.removeAllRecords(Section.ADDITIONAL);
        reply.addRecord(ourOpt(Rcode.BADVERS >> 4), Section.ADDITIONAL);
        return reply;
    }

    /** The wire form, truncated with TC at {@code maxLength} (whole RRsets only; dnsjava does that). */
    static byte[] encode(Message reply, int maxLength) {
        return reply.toWire(maxLength);
    }

    private static Message headerOnly(byte[] wire, int rcode) {
        int id = ((wire[0] & 0xff) << 8) | (wire[1] & 0xff);
        Message reply = new Message(id);
        Header header = reply.getHeader();
        header.setOpcode((wire[2] >> 3) & 0x0f);
        header.setFlag(Flags.QR);
        header.setFlag(Flags.RA);
        if ((wire[2] & 0x01) != 0) {
            header.setFlag(Flags.RD);
        }
        header.setRcode(rcode);
        return reply;
    }

    private static OPTRecord ourOpt(int extendedRcode) {
        return new OPTRecord(DnsQuery.MAX_UDP_SIZE, extendedRcode, 0, 0);
    }

    static boolean isQuery(int opcode) {
        return opcode == Opcode.QUERY;
    }
}
