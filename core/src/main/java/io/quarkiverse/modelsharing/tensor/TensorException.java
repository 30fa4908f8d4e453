package io.quarkiverse.modelsharing.tensor;

import io.quarkiverse.modelsharing.ModelSharingException;

/** A tensor was used in a way its dtype, shape, state or storage does not allow. */
public class TensorException extends ModelSharingException {

    public TensorException(String message) {
        super(message);
    }
}
