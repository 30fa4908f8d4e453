package io.quarkiverse.modelsharing.protocol;

import io.quarkiverse.modelsharing.ModelSharingException;

/** A frame broke the worker protocol: malformed, too long, of an unknown type or version. */
public class ProtocolException extends ModelSharingException {

    public ProtocolException(String message) {
        super(message);
    }
}
