package io.quarkiverse.modelsharing.tensor;

/**
 * Where new tensors come from: native memory of this process, or a shared-memory pool that other processes can map.
 */
public interface TensorAllocator {

    /** A zero-filled tensor. */
    default Tensor allocate(DType dtype, long... shape) {
        Tensor tensor = allocateUninitialized(dtype, shape);
        tensor.segment().fill((byte) 0);
        return tensor;
    }

    /** A tensor whose contents are undefined, for a producer that writes every element. */
    Tensor allocateUninitialized(DType dtype, long... shape);

    /** What kind of storage this allocator gives. */
    StorageKind kind();

    /** This process's native memory. */
    static TensorAllocator offHeap() {
        return OffHeapAllocator.INSTANCE;
    }

    /** A copy of {@code source} in this allocator's memory. */
    default Tensor copyOf(Tensor source) {
        Tensor copy = allocateUninitialized(source.dtype(), source.shape());
        copy.copyFrom(source);
        return copy;
    }

    enum OffHeapAllocator implements TensorAllocator {
        INSTANCE;

        @Override
        public Tensor allocate(DType dtype, long... shape) {
            return Tensor.allocate(dtype, shape);
        }

        @Override
        public Tensor allocateUninitialized(DType dtype, long... shape) {
            return Tensor.allocateUninitialized(dtype, shape);
        }

        @Override
        public StorageKind kind() {
            return StorageKind.OFF_HEAP;
        }
    }
}
