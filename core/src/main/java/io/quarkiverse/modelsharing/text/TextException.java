package io.quarkiverse.modelsharing.text;

import io.quarkiverse.modelsharing.ModelSharingException;

/** A text the model cannot read as given: empty, or longer than the model's window. */
public class TextException extends ModelSharingException {

    public TextException(String message) {
        super(message);
    }
}
