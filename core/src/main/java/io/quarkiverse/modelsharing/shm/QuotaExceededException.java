package io.quarkiverse.modelsharing.shm;

/** An allocation would take a process or a session past its shared-memory quota. */
public class QuotaExceededException extends SharedMemoryException {

    public QuotaExceededException(String message) {
        super(message);
    }
}
