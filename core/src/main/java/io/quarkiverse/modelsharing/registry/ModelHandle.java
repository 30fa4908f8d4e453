package io.quarkiverse.modelsharing.registry;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A counted reference to a loaded model. While any handle to it is open, the registry never unloads the model.
 *
 * <pre>{@code
 * try (ModelHandle<OnnxModel> handle = registry.acquire("embedder", OnnxModel.class)) {
 *     handle.get().run(inputs);
 * }
 * }</pre>
 *
 * Close every handle you acquire: an open handle keeps its model in memory. Closing twice is harmless.
 *
 * @param <M> the loaded model's type
 */
public final class ModelHandle<M> implements AutoCloseable {

    private static final VarHandle CLOSED;

    static {
        try {
            CLOSED = MethodHandles.lookup().findVarHandle(ModelHandle.class, "closed", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final ModelRegistry registry;
    private final LoadedModel instance;
    private final M model;
    private volatile boolean closed;

    ModelHandle(ModelRegistry registry, LoadedModel instance, M model) {
        this.registry = registry;
        this.instance = instance;
        this.model = model;
    }

    /** The model's registered name. */
    public String name() {
        return instance.name;
    }

    /** Which load of the model this handle holds: it grows by one each time the model is loaded again. */
    public long generation() {
        return instance.generation;
    }

    /**
     * The loaded model.
     *
     * @throws ModelUnavailableException if this handle was closed, or the registry was closed
     */
    public M get() {
        if (closed) {
            throw new ModelUnavailableException("This handle to model '" + instance.name
                    + "' was closed; acquire a new handle from the registry");
        }
        if (registry.isClosed()) {
            throw new ModelUnavailableException("Model '" + instance.name
                    + "' is no longer available: its registry was closed (the application is shutting down)");
        }
        return model;
    }

    public boolean isClosed() {
        return closed;
    }

    /** Gives the reference back; an idle model becomes eligible for eviction. */
    @Override
    public void close() {
        if (CLOSED.compareAndSet(this, false, true)) {
            registry.release(instance);
        }
    }

    @Override
    public String toString() {
        return "ModelHandle[" + instance.name + " #" + instance.generation + (closed ? " closed" : "") + "]";
    }
}
