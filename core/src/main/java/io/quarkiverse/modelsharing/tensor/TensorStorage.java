package io.quarkiverse.modelsharing.tensor;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The memory under one or more {@link Tensor} views, freed when the last view releases it.
 * <p>
 * Each live {@code Tensor} holds exactly one reference; {@link Tensor#retain()} and the view methods add one,
 * {@link Tensor#close()} gives one back. Storage providers (the shared-memory pools) extend this class and hand it
 * to {@link Tensor#of(TensorStorage, DType, long...)}.
 */
public abstract class TensorStorage {

    /** Off-heap tensors start on a cache line, so that vectorised kernels never straddle one at the start. */
    static final long OFF_HEAP_ALIGNMENT = 64;

    private final AtomicInteger references = new AtomicInteger(1);

    protected TensorStorage() {
    }

    /** The whole memory of this storage. */
    public abstract MemorySegment segment();

    public abstract StorageKind kind();

    /** Gives the memory back; called once, when the last reference is released. */
    protected abstract void free();

    /** Whether the memory was given back. */
    protected boolean isFreed() {
        return false;
    }

    final void retain() {
        for (;;) {
            int current = references.get();
            if (current <= 0) {
                throw new TensorException("tensor storage was already freed; retain a tensor before closing it");
            }
            if (references.compareAndSet(current, current + 1)) {
                return;
            }
        }
    }

    final void release() {
        int left = references.decrementAndGet();
        if (left == 0) {
            free();
        } else if (left < 0) {
            throw new IllegalStateException("tensor storage released more often than retained");
        }
    }

    final int references() {
        return references.get();
    }

    /** Zero-filled native memory. */
    static TensorStorage offHeap(long byteSize) {
        TensorStorage storage = new OffHeap(byteSize);
        storage.segment().fill((byte) 0);
        return storage;
    }

    /** Native memory that the caller overwrites entirely before anyone reads it. */
    static TensorStorage offHeapUninitialized(long byteSize) {
        return new OffHeap(byteSize);
    }

    static TensorStorage heap(long byteSize) {
        return new Heap(byteSize);
    }

    static TensorStorage borrowed(MemorySegment segment) {
        return new Borrowed(segment);
    }

    private static final class OffHeap extends TensorStorage {
        private final MemorySegment segment;
        private volatile boolean freed;

        OffHeap(long byteSize) {
            this.segment = NativeMemory.allocate(byteSize, OFF_HEAP_ALIGNMENT);
        }

        @Override
        public MemorySegment segment() {
            return segment;
        }

        @Override
        public StorageKind kind() {
            return StorageKind.OFF_HEAP;
        }

        @Override
        protected void free() {
            freed = true;
            NativeMemory.free(segment);
        }

        @Override
        protected boolean isFreed() {
            return freed;
        }
    }

    private static final class Heap extends TensorStorage {
        private final MemorySegment segment;

        Heap(long byteSize) {
            if (byteSize > (long) Integer.MAX_VALUE * Long.BYTES) {
                throw new TensorException("a heap tensor holds at most 16 GiB; " + byteSize
                        + " bytes were asked for: allocate it off heap");
            }
            // A long[] backing keeps every element type naturally aligned.
            this.segment = MemorySegment.ofArray(new long[(int) ((byteSize + 7) / 8)]).asSlice(0, byteSize);
        }

        @Override
        public MemorySegment segment() {
            return segment;
        }

        @Override
        public StorageKind kind() {
            return StorageKind.HEAP;
        }

        @Override
        protected void free() {
            // the garbage collector takes the array
        }
    }

    /** Memory that the caller owns and frees: the tensor only borrows it. */
    private static final class Borrowed extends TensorStorage {
        private final MemorySegment segment;

        Borrowed(MemorySegment segment) {
            this.segment = segment;
        }

        @Override
        public MemorySegment segment() {
            return segment;
        }

        @Override
        public StorageKind kind() {
            return segment.isNative() ? StorageKind.OFF_HEAP : StorageKind.HEAP;
        }

        @Override
        protected void free() {
            // the owner of the segment frees it
        }
    }
}
