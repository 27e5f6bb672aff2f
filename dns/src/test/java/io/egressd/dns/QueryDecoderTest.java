package io.egressd.dns;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/** Malformed and unsupported queries get FORMERR, NOTIMP or BADVERS, or are dropped. */
class QueryDecoderTest {

    private static final InetSocketAddress CLIENT = new InetSocketAddress("127.0.0.1", 5555);

    private static Decoded decode(byte[] wire) {
        return QueryDecoder.decode(wire, CLIENT, false);
    }

    @Test
    void tooShortAndResponsesAreDropped() {
        assertThat(decode(new byte[0])).isInstanceOf(Decoded.Drop.class);
        assertThat(decode(new byte[11])).isInstanceOf(Decoded.Drop.class);
        Message response = Harness.newQuery("api.example.com", Type.A);
        response.getHeader().setFlag(Flags.QR);
        assertThat(decode(response.toWire())).isInstanceOf(Decoded.Drop.class);
    }

    @Test
    void unparseableQueriesGetFormerrWithTheirId() {
        byte[] wire = Harness.newQuery("api.example.com", Type.A).toWire();
        wire[0] = 0x12;
        wire[1] = 0x34;
        byte[] cut = java.util.Arrays.copyOf(wire, 20);
        Decoded decoded = decode(cut);
        assertThat(decoded).isInstanceOf(Decoded.Reply.class);
        Message reply = ((Decoded.Reply) decoded).reply();
        assertThat(reply.getHeader().getID()).isEqualTo(0x1234);
        assertThat(reply.getRcode()).isEqualTo(Rcode.FORMERR);
        assertThat(reply.getHeader().getFlag(Flags.QR)).isTrue();
    }

    @Test
    void zeroOrTwoQuestionsAreFormerr() {
        Message none = new Message(7);
        assertThat(((Decoded.Reply) decode(none.toWire())).reply().getRcode()).isEqualTo(Rcode.FORMERR);
        Message two = Harness.newQuery("api.example.com", Type.A);
        two.addRecord(Record.newRecord(TestUpstream.name("evil.example"), Type.A, DClass.IN), Section.QUESTION);
        assertThat(((Decoded.Reply) decode(two.toWire())).reply().getRcode()).isEqualTo(Rcode.FORMERR);
    }

    @Test
    void otherOpcodesAreNotImplemented() {
        Message notify = Harness.newQuery("api.example.com", Type.SOA);
        notify.getHeader().setOpcode(Opcode.NOTIFY);
        Message reply = ((Decoded.Reply) decode(notify.toWire())).reply();
        assertThat(reply.getRcode()).isEqualTo(Rcode.NOTIMP);
        assertThat(reply.getHeader().getOpcode()).isEqualTo(Opcode.NOTIFY);
    }

    @Test
    void unknownEdnsVersionIsBadvers() throws Exception {
        Message query = Harness.newQuery("api.example.com", Type.A);
        query.addRecord(new OPTRecord(1232, 0, 1), Section.ADDITIONAL);
        Message reply = ((Decoded.Reply) decode(query.toWire())).reply();
        Message onWire = new Message(reply.toWire());
        assertThat(onWire.getRcode()).isEqualTo(Rcode.BADVERS);
        assertThat(onWire.getOPT()).isNotNull();
        assertThat(onWire.getOPT().getVersion()).isZero();
    }

    @Test
    void twoOptRecordsAreFormerr() {
        Message query = Harness.newQuery("api.example.com", Type.A);
        query.addRecord(new OPTRecord(1232, 0, 0), Section.ADDITIONAL);
        query.addRecord(new OPTRecord(512, 0, 0), Section.ADDITIONAL);
        assertThat(((Decoded.Reply) decode(query.toWire())).reply().getRcode()).isEqualTo(Rcode.FORMERR);
    }

    @Test
    void theServerAnswersGarbageWithFormerrOverBothTransports(@TempDir Path dir) throws Exception {
        try (Harness dns = Harness.start(dir)) {
            byte[] garbage = {0x55, 0x66, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3f, 0x41};
            for (byte[] answer : new byte[][] {RawClient.udp(dns.port(), garbage), RawClient.tcp(dns.port(), garbage)}) {
                Message reply = new Message(answer);
                assertThat(reply.getHeader().getID()).isEqualTo(0x5566);
                assertThat(reply.getRcode()).isEqualTo(Rcode.FORMERR);
                assertThat(reply.getHeader().getFlag(Flags.RD)).isTrue();
            }
        }
    }
}
