package io.quarkiverse.modelsharing.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import io.quarkiverse.modelsharing.ForeignCalls;

/**
 * Off-heap memory from the C allocator: {@code aligned_alloc} and {@code free}.
 * <p>
 * A shared {@link java.lang.foreign.Arena} would free memory safely, but closing one costs a handshake with every
 * thread (about 57 µs here, against 0.1 µs for {@code free}); tensors are allocated and freed on every inference, so
 * the tensor's own reference count decides when memory is freed instead, and the {@link Tensor} API refuses access
 * through a closed reference.
 */
public final class NativeMemory {

    private static final MethodHandle ALIGNED_ALLOC;
    private static final MethodHandle FREE;

    static {
        ALIGNED_ALLOC = ForeignCalls.ALIGNED_ALLOC.link();
        FREE = ForeignCalls.FREE.link();
    }

    private NativeMemory() {
    }

    /** {@code byteSize} bytes aligned to {@code alignment} (a power of two), not zeroed. */
    static MemorySegment allocate(long byteSize, long alignment) {
        // aligned_alloc wants a size that is a multiple of the alignment
        long rounded = Math.max(alignment, (byteSize + alignment - 1) & -alignment);
        MemorySegment address;
        try {
            address = (MemorySegment) ALIGNED_ALLOC.invokeExact(alignment, rounded);
        } catch (Throwable e) {
            throw new IllegalStateException("aligned_alloc failed", e);
        }
        if (address.equals(MemorySegment.NULL)) {
            throw new TensorException("cannot allocate " + byteSize + " bytes of native memory: the process is out of memory");
        }
        return address.reinterpret(byteSize);
    }

    static void free(MemorySegment segment) {
        try {
            FREE.invokeExact(segment);
        } catch (Throwable e) {
            throw new IllegalStateException("free failed", e);
        }
    }
}
