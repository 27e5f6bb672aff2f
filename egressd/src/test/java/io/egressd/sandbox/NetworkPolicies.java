package io.egressd.sandbox;

import static io.egressd.sandbox.DeployFiles.at;
import static io.egressd.sandbox.DeployFiles.list;
import static io.egressd.sandbox.DeployFiles.map;
import static io.egressd.sandbox.DeployFiles.maps;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the NetworkPolicies of one namespace allow, by the Kubernetes rules, for the part of
 * the API the manifests use (label selectors with matchLabels, numeric ports). Anything else
 * (matchExpressions, ipBlock, named ports, endPort) fails the test instead of being guessed.
 *
 * <p>A pod is isolated in a direction when some policy of its namespace selects it with that
 * policy type; an isolated pod may do only what one rule of those policies allows. A
 * connection needs the source's egress and the destination's ingress. Traffic from the node
 * (kubelet's probes) is always allowed and not modelled.
 */
final class NetworkPolicies {

    /** A pod: its namespace's name and labels, its own labels. */
    record Pod(String namespace, Map<String, String> namespaceLabels, Map<String, String> labels) {
        static Pod in(String namespace, Map<String, String> labels) {
            Map<String, String> ns = new HashMap<>();
            ns.put("kubernetes.io/metadata.name", namespace);   // set on every namespace by the API server
            return new Pod(namespace, ns, labels);
        }
    }

    /** Outside the cluster (the internet). */
    static final Pod OUTSIDE = null;

    private final String namespace;
    private final List<Map<String, Object>> policies;

    NetworkPolicies(String namespace, List<Map<String, Object>> docs) {
        this.namespace = namespace;
        this.policies = docs.stream().filter(d -> "NetworkPolicy".equals(d.get("kind")))
                .map(d -> map(at(d, "spec"))).toList();
    }

    /** May {@code from} open a connection to {@code to} on {@code protocol}/{@code port}? */
    boolean allows(Pod from, Pod to, String protocol, int port) {
        boolean egress = from == OUTSIDE || !from.namespace().equals(namespace)
                || direction(from, "Egress", "egress", "to", to, protocol, port);
        boolean ingress = to == OUTSIDE || !to.namespace().equals(namespace)
                || direction(to, "Ingress", "ingress", "from", from, protocol, port);
        return egress && ingress;
    }

    private boolean direction(Pod subject, String type, String rulesKey, String peersKey, Pod other, String protocol,
                              int port) {
        List<Map<String, Object>> selecting = policies.stream()
                .filter(p -> list(at(p, "policyTypes")).contains(type))
                .filter(p -> selects(map(at(p, "podSelector")), subject.labels())).toList();
        if (selecting.isEmpty()) {
            return true;
        }
        for (Map<String, Object> policy : selecting) {
            for (Map<String, Object> rule : policy.get(rulesKey) == null ? List.<Map<String, Object>>of()
                    : maps(policy.get(rulesKey))) {
                if (peers(rule.get(peersKey), other) && ports(rule.get("ports"), protocol, port)) {
                    return true;
                }
            }
        }
        return false;
    }

    private boolean peers(Object peers, Pod other) {
        if (peers == null || list(peers).isEmpty()) {
            return true;
        }
        for (Map<String, Object> peer : maps(peers)) {
            assertThat(Set.of("podSelector", "namespaceSelector")).as("peer %s (ipBlock is not modelled)", peer)
                    .containsAll(peer.keySet());
            if (other == OUTSIDE) {
                continue;   // pod and namespace selectors select pods only
            }
            boolean namespaceMatches = peer.containsKey("namespaceSelector")
                    ? selects(map(peer.get("namespaceSelector")), other.namespaceLabels())
                    : other.namespace().equals(namespace);
            boolean podMatches = !peer.containsKey("podSelector")
                    || selects(map(peer.get("podSelector")), other.labels());
            if (namespaceMatches && podMatches) {
                return true;
            }
        }
        return false;
    }

    private static boolean ports(Object ports, String protocol, int port) {
        if (ports == null || list(ports).isEmpty()) {
            return true;
        }
        for (Map<String, Object> p : maps(ports)) {
            assertThat(Set.of("protocol", "port")).as("port %s (endPort is not modelled)", p).containsAll(p.keySet());
            Object number = p.get("port");
            if (number != null && !(number instanceof Integer)) {
                fail("named port %s is not modelled", number);
            }
            if (p.getOrDefault("protocol", "TCP").equals(protocol) && (number == null || (Integer) number == port)) {
                return true;
            }
        }
        return false;
    }

    private static boolean selects(Map<String, Object> selector, Map<String, String> labels) {
        assertThat(Set.of("matchLabels")).as("selector %s (matchExpressions is not modelled)", selector)
                .containsAll(selector.keySet());
        Object match = selector.get("matchLabels");
        return match == null || labels.entrySet().containsAll(map(match).entrySet());
    }
}
