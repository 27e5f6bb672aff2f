package io.egressd.policy;

import java.util.List;
import java.util.stream.Collectors;

/** A policy or config that failed validation; {@link #errors()} has every problem found, in file order. */
public final class PolicyException extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient List<ValidationError> errors;

    public PolicyException(List<ValidationError> errors) {
        super(errors.stream().map(ValidationError::toString).collect(Collectors.joining("\n")));
        this.errors = List.copyOf(errors);
    }

    public List<ValidationError> errors() {
        return errors;
    }
}
