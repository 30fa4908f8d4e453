package io.quarkiverse.modelsharing.dlpack;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import io.quarkiverse.modelsharing.ForeignCalls;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;

/**
 * DLPack interop through the C ABI: {@link #export(Tensor)} hands native code a {@code DLManagedTensorVersioned*}
 * over the tensor's own memory, {@link #importTensor(MemorySegment)} takes one from native code, both without
 * copying data. The struct layout is {@link DLManagedTensorLayout}'s.
 *
 * <pre>{@code
 * MemorySegment managed = DLPack.export(tensor); // the consumer calls managed->deleter(managed) when done
 * try (Tensor t = DLPack.importTensor(pointerFromNativeCode)) { ... } // closing calls the producer's deleter
 * }</pre>
 */
public final class DLPack {

    /** DLPack's device type for host memory. */
    static final int DEVICE_CPU = 1;
    static final long FLAG_READ_ONLY = 1;
    static final int VERSION_MAJOR = 1;
    static final int VERSION_MINOR = 0;

    /** Each export's tensor reference and struct memory, by the context id in the struct's manager_ctx. */
    private static final Map<Long, Export> EXPORTED = new ConcurrentHashMap<>();
    private static final AtomicLong NEXT_CONTEXT = new AtomicLong(1);
    private static final MemorySegment DELETER;
    private static final MethodHandle CALL_DELETER;

    static {
        Linker linker = Linker.nativeLinker();
        try {
            MethodHandle target = MethodHandles.lookup().findStatic(DLPack.class, "deleteExported",
                    MethodType.methodType(void.class, MemorySegment.class));
            DELETER = linker.upcallStub(target, ForeignCalls.DLPACK_DELETER_UPCALL, Arena.global());
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
        CALL_DELETER = ForeignCalls.DLPACK_DELETER.link();
    }

    private DLPack() {
    }

    /**
     * A {@code DLManagedTensorVersioned} over {@code tensor}'s memory, holding a reference to it until the consumer
     * calls the struct's deleter. Off-heap and shared tensors only; read-only tensors are flagged read-only.
     */
    public static MemorySegment export(Tensor tensor) {
        if (!tensor.segment().isNative()) {
            throw new TensorException("DLPack shares native memory; " + tensor + " is on the heap: copy it off heap first");
        }
        int rank = tensor.rank();
        Tensor held = tensor.retain();
        Tensor struct = TensorAllocator.offHeap().allocateUninitialized(DType.U8, DLManagedTensorLayout.BYTES + 16L * rank);
        MemorySegment managed = struct.segment();
        long context = NEXT_CONTEXT.getAndIncrement();
        EXPORTED.put(context, new Export(held, struct));
        MemorySegment shape = managed.asSlice(DLManagedTensorLayout.BYTES, 8L * rank);
        MemorySegment strides = managed.asSlice(DLManagedTensorLayout.BYTES + 8L * rank, 8L * rank);
        long[] dims = tensor.shape();
        long[] steps = tensor.strides();
        for (int axis = 0; axis < rank; axis++) {
            shape.setAtIndex(JAVA_LONG, axis, dims[axis]);
            strides.setAtIndex(JAVA_LONG, axis, steps[axis]);
        }
        managed.set(JAVA_INT, DLManagedTensorLayout.VERSION_MAJOR, VERSION_MAJOR);
        managed.set(JAVA_INT, DLManagedTensorLayout.VERSION_MINOR, VERSION_MINOR);
        managed.set(ADDRESS, DLManagedTensorLayout.MANAGER_CTX, MemorySegment.ofAddress(context));
        managed.set(ADDRESS, DLManagedTensorLayout.DELETER, DELETER);
        managed.set(JAVA_LONG, DLManagedTensorLayout.FLAGS, tensor.isReadOnly() ? FLAG_READ_ONLY : 0);
        managed.set(ADDRESS, DLManagedTensorLayout.DATA, held.segment());
        managed.set(JAVA_INT, DLManagedTensorLayout.DEVICE_TYPE, DEVICE_CPU);
        managed.set(JAVA_INT, DLManagedTensorLayout.DEVICE_ID, 0);
        managed.set(JAVA_INT, DLManagedTensorLayout.NDIM, rank);
        managed.set(JAVA_BYTE, DLManagedTensorLayout.DTYPE_CODE, (byte) DLDataTypes.code(tensor.dtype()));
        managed.set(JAVA_BYTE, DLManagedTensorLayout.DTYPE_BITS, (byte) (tensor.dtype().byteSize() * 8));
        managed.set(JAVA_SHORT, DLManagedTensorLayout.DTYPE_LANES, (short) 1);
        managed.set(ADDRESS, DLManagedTensorLayout.SHAPE, shape);
        managed.set(ADDRESS, DLManagedTensorLayout.STRIDES, strides);
        managed.set(JAVA_LONG, DLManagedTensorLayout.BYTE_OFFSET, 0L);
        return managed;
    }

    /** How many exported tensors native code has not yet given back. */
    public static int outstandingExports() {
        return EXPORTED.size();
    }

    /**
     * A tensor over a producer's {@code DLManagedTensorVersioned*}: no copy. Closing the tensor (every view of it)
     * calls the producer's deleter. Only compact, C-contiguous CPU tensors of the supported dtypes are accepted.
     */
    public static Tensor importTensor(MemorySegment pointer) {
        MemorySegment managed = pointer.reinterpret(DLManagedTensorLayout.BYTES);
        int major = managed.get(JAVA_INT, DLManagedTensorLayout.VERSION_MAJOR);
        if (major != VERSION_MAJOR) {
            throw new TensorException(
                    "DLPack major version " + major + " is not supported; this reader knows " + VERSION_MAJOR);
        }
        int device = managed.get(JAVA_INT, DLManagedTensorLayout.DEVICE_TYPE);
        if (device != DEVICE_CPU) {
            throw new TensorException("DLPack tensor is on device type " + device + "; only CPU memory (1) can be imported");
        }
        int rank = managed.get(JAVA_INT, DLManagedTensorLayout.NDIM);
        if (rank < 0 || rank > 32) {
            throw new TensorException("DLPack tensor has ndim " + rank);
        }
        DType dtype = DLDataTypes.dtype(managed.get(JAVA_BYTE, DLManagedTensorLayout.DTYPE_CODE) & 0xFF,
                managed.get(JAVA_BYTE, DLManagedTensorLayout.DTYPE_BITS) & 0xFF,
                managed.get(JAVA_SHORT, DLManagedTensorLayout.DTYPE_LANES) & 0xFFFF);
        long[] shape = managed.get(ADDRESS, DLManagedTensorLayout.SHAPE).reinterpret(8L * rank).toArray(JAVA_LONG);
        MemorySegment stridesPointer = managed.get(ADDRESS, DLManagedTensorLayout.STRIDES);
        long elements = 1;
        for (long dim : shape) {
            elements = Math.multiplyExact(elements, dim);
        }
        if (!stridesPointer.equals(MemorySegment.NULL)) {
            long[] strides = stridesPointer.reinterpret(8L * rank).toArray(JAVA_LONG);
            long expected = 1;
            for (int axis = rank - 1; axis >= 0; axis--) {
                if (shape[axis] > 1 && strides[axis] != expected) {
                    throw new TensorException("DLPack tensor is not C-contiguous (strides " + Arrays.toString(strides)
                            + " for shape " + Arrays.toString(shape) + "); make it contiguous before importing it");
                }
                expected *= shape[axis];
            }
        }
        long bytes = Math.multiplyExact(elements, dtype.byteSize());
        MemorySegment data = managed.get(ADDRESS, DLManagedTensorLayout.DATA)
                .reinterpret(managed.get(JAVA_LONG, DLManagedTensorLayout.BYTE_OFFSET) + bytes)
                .asSlice(managed.get(JAVA_LONG, DLManagedTensorLayout.BYTE_OFFSET), bytes);
        boolean readOnly = (managed.get(JAVA_LONG, DLManagedTensorLayout.FLAGS) & FLAG_READ_ONLY) != 0;
        MemorySegment deleter = managed.get(ADDRESS, DLManagedTensorLayout.DELETER);
        return Tensor.of(new ImportedStorage(readOnly ? data.asReadOnly() : data, () -> {
            if (!deleter.equals(MemorySegment.NULL)) {
                try {
                    CALL_DELETER.invokeExact(deleter, pointer);
                } catch (Throwable e) {
                    throw new TensorException("the DLPack producer's deleter failed: " + e);
                }
            }
        }), dtype, shape);
    }

    /**
     * Called by native code through the struct's deleter: gives back the tensor reference and the struct. An
     * exception here would abort the JVM, so a deleter called twice or with a foreign struct is ignored.
     */
    private static void deleteExported(MemorySegment managed) {
        try {
            long context = managed.reinterpret(DLManagedTensorLayout.BYTES).get(ADDRESS, DLManagedTensorLayout.MANAGER_CTX)
                    .address();
            Export export = EXPORTED.remove(context);
            if (export != null) {
                export.tensor().close();
                export.struct().close();
            }
        } catch (Throwable e) {
            System.getLogger(DLPack.class.getName()).log(System.Logger.Level.ERROR, "DLPack deleter failed", e);
        }
    }

    private record Export(Tensor tensor, Tensor struct) {
    }
}
