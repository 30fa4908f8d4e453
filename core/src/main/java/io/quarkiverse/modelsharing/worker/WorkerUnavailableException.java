package io.quarkiverse.modelsharing.worker;

import io.quarkiverse.modelsharing.ModelSharingException;

/** The worker serving a request went away (crashed, was killed, or closed the connection) before answering. */
public class WorkerUnavailableException extends ModelSharingException {

    public WorkerUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
