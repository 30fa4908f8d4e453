package io.quarkiverse.modelsharing.onnx;

import io.quarkiverse.modelsharing.ModelSharingException;

/** A file or resource that should hold an ONNX model does not hold a valid one. */
public class InvalidModelException extends ModelSharingException {

    public InvalidModelException(String message) {
        super(message);
    }
}
