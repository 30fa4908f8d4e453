package io.quarkiverse.modelsharing.registry;

import io.quarkiverse.modelsharing.ModelSharingException;

/** A model cannot be loaded within the registry's memory budget or model count, even after evicting idle models. */
public class ModelAdmissionException extends ModelSharingException {

    private final long bytesNeeded;
    private final long bytesAvailable;

    public ModelAdmissionException(String message, long bytesNeeded, long bytesAvailable) {
        super(message);
        this.bytesNeeded = bytesNeeded;
        this.bytesAvailable = bytesAvailable;
    }

    public long bytesNeeded() {
        return bytesNeeded;
    }

    public long bytesAvailable() {
        return bytesAvailable;
    }
}
