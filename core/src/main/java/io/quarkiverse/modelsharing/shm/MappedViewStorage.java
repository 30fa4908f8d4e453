package io.quarkiverse.modelsharing.shm;

import java.lang.foreign.MemorySegment;

import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.TensorStorage;

/**
 * A read-only view of a block opened from its descriptor. What keeps the block from reuse depends on who the reader
 * is to the owner, and the view holds exactly that: a reference counted in the block header (a reader of a named pool
 * without a socket, or this process reading its own pool), or nothing (a connection's lease keeps the block, and
 * {@code onFree} tells it when the last reference here is gone). A view of another process's pool also holds the
 * pool's mapping, which goes with the last view.
 */
final class MappedViewStorage extends TensorStorage {

    private final MemorySegment data;
    private final MemorySegment pool;
    private final long headerOffset;
    private final boolean counted;
    private final ForeignPool mapping;
    private final TensorDescriptor block;
    private final Runnable onFree;

    MappedViewStorage(MemorySegment data, MemorySegment pool, long headerOffset, boolean counted, ForeignPool mapping,
            TensorDescriptor block, Runnable onFree) {
        this.data = data;
        this.pool = pool;
        this.headerOffset = headerOffset;
        this.counted = counted;
        this.mapping = mapping;
        this.block = block;
        this.onFree = onFree;
    }

    @Override
    public MemorySegment segment() {
        return data;
    }

    @Override
    public StorageKind kind() {
        return StorageKind.SHARED;
    }

    /** The descriptor of the part of this view that {@code view} covers: a view re-sent names the same block. */
    TensorDescriptor describe(MemorySegment view, io.quarkiverse.modelsharing.tensor.DType dtype, long[] shape) {
        long within = block.byteOffset() + (view.address() - data.address());
        return new TensorDescriptor(block.poolId(), block.generation(), block.offset(), within, view.byteSize(), dtype,
                shape, true);
    }

    ForeignPool mapping() {
        return mapping;
    }

    @Override
    protected void free() {
        try {
            if (counted) {
                BlockLayout.release(pool, headerOffset);
            }
            if (onFree != null) {
                onFree.run();
            }
        } finally {
            if (mapping != null) {
                mapping.release();
            }
        }
    }
}
