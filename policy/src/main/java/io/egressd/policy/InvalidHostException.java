package io.egressd.policy;

/** A destination or host pattern that is not a host egressd will ever decide on. */
public final class InvalidHostException extends Exception {
    private static final long serialVersionUID = 1L;

    public InvalidHostException(String message) {
        super(message);
    }
}
