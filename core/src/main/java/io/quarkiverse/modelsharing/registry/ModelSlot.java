package io.quarkiverse.modelsharing.registry;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.LongAdder;

/**
 * Everything the registry keeps under one model name: the loader, the loaded instance if any, the load in
 * flight if any, and counters that outlive reloads. Fields that change together are guarded by the slot's monitor;
 * {@link #current} is also read without it on the hot path.
 */
final class ModelSlot {

    final String name;
    volatile ModelLoader<?> loader;
    volatile LoadedModel current;
    /** The load in flight; every concurrent first caller waits for this one. Guarded by {@code this}. */
    CompletableFuture<LoadedModel> loading;
    volatile Throwable lastFailure;
    long generations;
    /**
     * How many times the slot was retired (registered again, reloaded, or its registry closed); a load that started
     * at a smaller count is stale when it finishes. Guarded by {@code this}.
     */
    long retirements;

    final LongAdder hits = new LongAdder();
    final LongAdder misses = new LongAdder();
    final LongAdder uses = new LongAdder();
    final LongAdder loads = new LongAdder();
    final LongAdder loadFailures = new LongAdder();
    final LongAdder evictions = new LongAdder();
    final LongAdder totalLoadNanos = new LongAdder();
    volatile long lastLoadNanos;

    ModelSlot(String name, ModelLoader<?> loader) {
        this.name = name;
        this.loader = loader;
    }

    /** The model's state; a model being unloaded counts as loaded until it is closed and forgotten. */
    ModelState state() {
        if (current != null) {
            return ModelState.LOADED;
        }
        synchronized (this) {
            if (loading != null) {
                return ModelState.LOADING;
            }
        }
        return lastFailure != null ? ModelState.FAILED : ModelState.UNLOADED;
    }

    /** Forgets {@code instance} if it is still the current one. */
    synchronized void clear(LoadedModel instance) {
        if (current == instance) {
            current = null;
        }
    }
}
