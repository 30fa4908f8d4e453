package io.quarkiverse.modelsharing.registry;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * One load of one model: the loaded object, its accounted bytes and its live-handle count.
 * <p>
 * {@code references} is the number of live handles, or {@link #UNLOADED} once the registry has claimed the
 * instance for unloading. Claiming is a compare-and-set from 0, so an instance with a live handle can never be
 * claimed, and a handle can never be taken on a claimed instance.
 */
final class LoadedModel {

    private static final int UNLOADED = -1;

    final String name;
    final AutoCloseable model;
    final long bytes;
    final long generation;
    private final AtomicInteger references = new AtomicInteger(1);
    /** No new handles: the model was reloaded, unregistered, or the registry closed. */
    volatile boolean retired;
    volatile long lastUsedNanos;

    LoadedModel(String name, AutoCloseable model, long bytes, long generation, long nowNanos) {
        this.name = name;
        this.model = model;
        this.bytes = bytes;
        this.generation = generation;
        this.lastUsedNanos = nowNanos;
    }

    boolean tryRetain() {
        for (;;) {
            int current = references.get();
            if (current == UNLOADED) {
                return false;
            }
            if (references.compareAndSet(current, current + 1)) {
                return true;
            }
        }
    }

    /** Returns the handles left. */
    int release() {
        return references.decrementAndGet();
    }

    /** Claims an idle instance for unloading; fails if it has a live handle or was claimed already. */
    boolean tryClaim() {
        return references.compareAndSet(0, UNLOADED);
    }

    int liveHandles() {
        return Math.max(references.get(), 0);
    }

    boolean isUnloaded() {
        return references.get() == UNLOADED;
    }

    boolean isIdle() {
        return references.get() == 0;
    }
}
