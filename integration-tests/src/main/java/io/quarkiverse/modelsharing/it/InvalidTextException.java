package io.quarkiverse.modelsharing.it;

/** The text to embed cannot be embedded as it is: the message tells the caller why. */
public class InvalidTextException extends RuntimeException {

    public InvalidTextException(String message) {
        super(message);
    }
}
