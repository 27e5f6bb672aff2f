package io.egressd.proxy;

import java.net.UnknownHostException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;

/** Words a failed name lookup the same way for every front (HTTP and stream). */
final class LookupFailure {

    private LookupFailure() {
    }

    /**
     * Why looking up {@code name} failed: it timed out, or it does not resolve (refused, no such
     * name, or anything else, the last logged at debug on the caller's {@code log}).
     */
    static String describe(String name, Throwable error, Logger log) {
        Throwable cause = error;
        while ((cause instanceof CompletionException || cause instanceof ExecutionException)
                && cause.getCause() != null) {
            cause = cause.getCause();
        }
        if (cause instanceof TimeoutException) {
            return "looking up " + name + " timed out";
        }
        if (!(cause instanceof UnknownHostException)) {
            log.debug("lookup of {} failed", name, cause);
        }
        return name + " does not resolve";
    }
}
