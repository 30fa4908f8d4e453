package io.quarkiverse.modelsharing.shm;

import io.quarkiverse.modelsharing.ModelSharingException;

/** Shared memory could not be reserved, mapped or read as asked; the message says which pool or descriptor. */
public class SharedMemoryException extends ModelSharingException {

    public SharedMemoryException(String message) {
        super(message);
    }

    public SharedMemoryException(String message, Throwable cause) {
        super(message, cause);
    }
}
