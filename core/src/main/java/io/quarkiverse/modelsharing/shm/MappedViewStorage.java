package io.quarkiverse.modelsharing.shm;

import java.lang.foreign.MemorySegment;

import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.TensorStorage;

/** A read-only view of a block in another process's pool; the mapping stays cached when the view is closed. */
final class MappedViewStorage extends TensorStorage {

    private final MemorySegment data;

    MappedViewStorage(MemorySegment data) {
        this.data = data;
    }

    @Override
    public MemorySegment segment() {
        return data;
    }

    @Override
    public StorageKind kind() {
        return StorageKind.SHARED;
    }

    @Override
    protected void free() {
        // the pool's owner frees the block; this process only maps it
    }
}
