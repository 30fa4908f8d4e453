package io.quarkiverse.modelsharing.tensor;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

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
        Linker linker = Linker.nativeLinker();
        ALIGNED_ALLOC = linker.downcallHandle(linker.defaultLookup().find("aligned_alloc").orElseThrow(),
                Signatures.ALIGNED_ALLOC);
        FREE = linker.downcallHandle(linker.defaultLookup().find("free").orElseThrow(), Signatures.FREE);
    }

    /**
     * The C functions that native memory is managed with, for ahead-of-time compilers that must register every
     * downcall in advance. Reading them does not link anything.
     */
    public static final class Signatures {
        static final FunctionDescriptor ALIGNED_ALLOC = FunctionDescriptor.of(ADDRESS, JAVA_LONG, JAVA_LONG);
        static final FunctionDescriptor FREE = FunctionDescriptor.ofVoid(ADDRESS);

        private Signatures() {
        }

        public static List<FunctionDescriptor> all() {
            return List.of(ALIGNED_ALLOC, FREE);
        }
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
