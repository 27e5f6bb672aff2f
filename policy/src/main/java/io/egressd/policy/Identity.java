package io.egressd.policy;

/**
 * Which server a client is (design.md 5.1), or why it is none.
 *
 * @param server    the identified server's name; null when not identified
 * @param failure   {@link Reason#UNKNOWN_CLIENT} or {@link Reason#BAD_CREDENTIALS} when not identified
 * @param challenge whether proxy credentials could identify the client, so a proxy should answer 407
 */
public record Identity(String server, Reason failure, boolean challenge) {

    public static Identity of(String server) {
        return new Identity(server, null, false);
    }

    public static Identity failed(Reason failure, boolean challenge) {
        return new Identity(null, failure, challenge);
    }

    public boolean known() {
        return server != null;
    }
}
