package io.quarkiverse.modelsharing.worker;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.protocol.Frame;

/** A worker refused or failed a request; {@link #code()} says which way. */
public class WorkerException extends ModelSharingException {

    private final Frame.ErrorCode code;

    public WorkerException(Frame.ErrorCode code, String message) {
        super(message);
        this.code = code;
    }

    public Frame.ErrorCode code() {
        return code;
    }
}
