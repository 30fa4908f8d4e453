package io.quarkiverse.modelsharing.registry;

/**
 * Loads one model for the {@link ModelRegistry}: the registry's service provider interface.
 * <p>
 * The registry calls {@link #estimateBytes()} before {@link #load()} to admit the model under its memory budget,
 * and calls {@code load()} at most once at a time per model name, however many callers are waiting.
 *
 * @param <M> what a loaded model is; the registry closes it when it unloads the model
 */
public interface ModelLoader<M extends AutoCloseable> {

    /** What the model is loaded from, for messages and health reports, e.g. {@code file /models/a.onnx}. */
    String describe();

    /** The memory the loaded model will take, estimated before loading it. */
    long estimateBytes();

    /** Loads the model. Failures are reported to every caller waiting for this load; the next caller retries. */
    M load() throws Exception;

    /** Whether the source is there to be loaded (a file that exists, a resource that is present). */
    default boolean isAvailable() {
        return true;
    }
}
