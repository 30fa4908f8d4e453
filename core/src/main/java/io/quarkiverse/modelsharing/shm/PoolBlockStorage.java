package io.quarkiverse.modelsharing.shm;

import java.lang.foreign.MemorySegment;
import java.util.function.Consumer;

import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.TensorStorage;

/** A block of one of this process's pool files under a tensor; freeing it retires its generation. */
final class PoolBlockStorage extends TensorStorage {

    final PoolFile file;
    final long headerOffset;
    final long blockBytes;
    final long generation;
    private final MemorySegment data;
    private final Runnable onFree;
    private final Consumer<PoolBlockStorage> deferred;
    private volatile boolean freed;

    PoolBlockStorage(PoolFile file, long headerOffset, long blockBytes, long generation, long length, Runnable onFree,
            Consumer<PoolBlockStorage> deferred) {
        this.file = file;
        this.headerOffset = headerOffset;
        this.blockBytes = blockBytes;
        this.generation = generation;
        this.data = file.segment.asSlice(headerOffset + BlockLayout.HEADER_BYTES, length);
        this.onFree = onFree;
        this.deferred = deferred;
    }

    long dataOffset() {
        return headerOffset + BlockLayout.HEADER_BYTES;
    }

    @Override
    public MemorySegment segment() {
        return data;
    }

    @Override
    public StorageKind kind() {
        return StorageKind.SHARED;
    }

    /** The owner's last reference is gone: retire the generation, and give the block back unless views hold it. */
    @Override
    protected void free() {
        freed = true;
        if (BlockLayout.retire(file.segment, headerOffset) == 0) {
            reclaim();
        } else {
            deferred.accept(this);
        }
    }

    /** Whether views opened from descriptors still hold the block. */
    boolean isHeld() {
        return BlockLayout.references(file.segment, headerOffset) > 0;
    }

    void reclaim() {
        file.release(headerOffset, blockBytes);
        onFree.run();
    }

    @Override
    protected boolean isFreed() {
        return freed;
    }
}
