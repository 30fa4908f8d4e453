package io.quarkiverse.modelsharing.registry;

import io.quarkiverse.modelsharing.ModelSharingException;

/** Loading a model failed; every caller that waited for that load gets this, and the next caller retries. */
public class ModelLoadException extends ModelSharingException {

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
