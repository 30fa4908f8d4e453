package io.quarkiverse.modelsharing.runtime.oip;

import io.quarkiverse.modelsharing.ModelSharingException;

/**
 * A request the Open Inference Protocol endpoints refuse, or an answer a remote server gave, with its HTTP status:
 * served as {@code {"error": "<message>"}}.
 */
public class InferenceProtocolException extends ModelSharingException {

    private final int status;

    public InferenceProtocolException(int status, String message) {
        super(message);
        this.status = status;
    }

    public InferenceProtocolException(int status, String message, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    static InferenceProtocolException badRequest(String message) {
        return new InferenceProtocolException(400, message);
    }

    /** The HTTP status: 4xx for the client's mistake, 5xx for the server's. */
    public int status() {
        return status;
    }
}
