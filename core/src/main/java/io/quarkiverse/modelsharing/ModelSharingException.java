package io.quarkiverse.modelsharing;

/**
 * The root of the project's exception family. Every failure that a user can hit is one of its subclasses, with a
 * message that says what happened, to which model or tensor, and what to do about it.
 */
public class ModelSharingException extends RuntimeException {

    public ModelSharingException(String message) {
        super(message);
    }

    public ModelSharingException(String message, Throwable cause) {
        super(message, cause);
    }
}
