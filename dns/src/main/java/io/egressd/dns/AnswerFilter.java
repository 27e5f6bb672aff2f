package io.egressd.dns;

import io.egressd.policy.Evaluation;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import org.xbill.DNS.AAAARecord;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.HTTPSRecord;
import org.xbill.DNS.Record;
import org.xbill.DNS.SVCBBase;
import org.xbill.DNS.SVCBRecord;

/**
 * Applies a server's address rules to an answer, exactly as the proxy applies them to a
 * connection: every A/AAAA record, and every address hint of an HTTPS/SVCB record, that
 * {@link Evaluation#permits} refuses is removed. A CNAME chain to a name outside the allowlist
 * is kept (names are harmless), but the addresses at its end are vetted against the rules of
 * the name the client asked for, so it cannot smuggle in loopback, metadata or private addresses.
 */
final class AnswerFilter {

    /**
     * @param records what the client may see
     * @param offered every A/AAAA address upstream gave, permitted or not (what the decision vets)
     * @param removed how many addresses were taken out
     */
    record Filtered(List<Record> records, List<InetAddress> offered, int removed) { }

    private AnswerFilter() {
    }

    static Filtered apply(List<Record> answers, Evaluation evaluation) {
        List<Record> kept = new ArrayList<>(answers.size());
        List<InetAddress> offered = new ArrayList<>();
        int removed = 0;
        for (Record r : answers) {
            InetAddress address = address(r);
            if (address != null) {
                offered.add(address);
                if (evaluation.permits(address)) {
                    kept.add(r);
                } else {
                    removed++;
                }
            } else if (r instanceof SVCBBase svcb) {
                Record vetted = vetHints(svcb, evaluation);
                if (vetted != null) {
                    kept.add(vetted);
                }
            } else {
                kept.add(r);
            }
        }
        return new Filtered(kept, offered, removed);
    }

    private static InetAddress address(Record r) {
        if (r instanceof ARecord a) {
            return a.getAddress();
        }
        if (r instanceof AAAARecord aaaa) {
            return aaaa.getAddress();
        }
        return null;
    }

    /** The record with only permitted hints; null when a hint it marks mandatory had to go entirely. */
    private static Record vetHints(SVCBBase r, Evaluation evaluation) {
        List<SVCBBase.ParameterBase> params = new ArrayList<>();
        boolean changed = false;
        List<Integer> dropped = new ArrayList<>();
        for (int key : r.getSvcParamKeys()) {
            SVCBBase.ParameterBase param = r.getSvcParamValue(key);
            SVCBBase.ParameterBase vetted = param;
            try {
                if (param instanceof SVCBBase.ParameterIpv4Hint v4) {
                    List<Inet4Address> keep = new ArrayList<>();
                    for (Inet4Address a : v4.getAddresses()) {
                        if (evaluation.permits(a)) {
                            keep.add(a);
                        }
                    }
                    vetted = keep.size() == v4.getAddresses().size() ? param
                            : keep.isEmpty() ? null : new SVCBBase.ParameterIpv4Hint(keep);
                } else if (param instanceof SVCBBase.ParameterIpv6Hint v6) {
                    List<Inet6Address> keep = new ArrayList<>();
                    for (Inet6Address a : v6.getAddresses()) {
                        if (evaluation.permits(a)) {
                            keep.add(a);
                        }
                    }
                    vetted = keep.size() == v6.getAddresses().size() ? param
                            : keep.isEmpty() ? null : new SVCBBase.ParameterIpv6Hint(keep);
                }
            } catch (UnknownHostException e) {
                vetted = null;
            }
            if (vetted != param) {
                changed = true;
            }
            if (vetted != null) {
                params.add(vetted);
            } else {
                dropped.add(key);
            }
        }
        if (!changed) {
            return r;
        }
        if (r.getSvcParamValue(SVCBBase.MANDATORY) instanceof SVCBBase.ParameterMandatory mandatory) {
            for (int key : dropped) {
                if (mandatory.getValues().contains(key)) {
                    return null;
                }
            }
        }
        return r instanceof HTTPSRecord
                ? new HTTPSRecord(r.getName(), r.getDClass(), r.getTTL(), r.getSvcPriority(), r.getTargetName(), params)
                : new SVCBRecord(r.getName(), r.getDClass(), r.getTTL(), r.getSvcPriority(), r.getTargetName(), params);
    }
}
