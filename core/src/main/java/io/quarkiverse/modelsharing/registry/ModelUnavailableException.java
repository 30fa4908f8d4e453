package io.quarkiverse.modelsharing.registry;

import io.quarkiverse.modelsharing.ModelSharingException;

/** A handle was used after it was closed, or after its model was unloaded with the registry. */
public class ModelUnavailableException extends ModelSharingException {

    public ModelUnavailableException(String message) {
        super(message);
    }
}
