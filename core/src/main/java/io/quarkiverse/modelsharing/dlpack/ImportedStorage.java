package io.quarkiverse.modelsharing.dlpack;

import java.lang.foreign.MemorySegment;

import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.TensorStorage;

/** Memory a DLPack producer lent us; freeing it calls the producer's deleter. */
final class ImportedStorage extends TensorStorage {

    private final MemorySegment data;
    private final Runnable deleter;

    ImportedStorage(MemorySegment data, Runnable deleter) {
        this.data = data;
        this.deleter = deleter;
    }

    @Override
    public MemorySegment segment() {
        return data;
    }

    @Override
    public StorageKind kind() {
        return StorageKind.OFF_HEAP;
    }

    @Override
    protected void free() {
        deleter.run();
    }
}
