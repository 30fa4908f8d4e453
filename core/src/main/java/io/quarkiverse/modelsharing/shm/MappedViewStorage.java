package io.quarkiverse.modelsharing.shm;

import java.lang.foreign.MemorySegment;

import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.TensorStorage;

/**
 * A read-only view of a block opened from its descriptor, in this process's pool or another's. It holds one of the
 * block's references, so the owner cannot reuse the block while the view is open; the mapping stays cached.
 */
final class MappedViewStorage extends TensorStorage {

    private final MemorySegment data;
    private final MemorySegment pool;
    private final long headerOffset;
    private final long counted;

    MappedViewStorage(MemorySegment data, MemorySegment pool, long headerOffset, long counted) {
        this.data = data;
        this.pool = pool;
        this.headerOffset = headerOffset;
        this.counted = counted;
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
        if (counted > 0) {
            BlockLayout.release(pool, headerOffset);
        }
    }
}
