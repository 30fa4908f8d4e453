package io.quarkiverse.modelsharing.tensor;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Cleaner;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * A dense, C-contiguous n-dimensional array in native byte order: the project's one tensor type.
 * <p>
 * Every {@code Tensor} object is one reference to its storage. {@link #retain()}, {@link #asReadOnly()} and
 * {@link #slice(long, long)} return new references over the same memory, without copying; {@link #close()}
 * releases this reference, and the memory is freed when the last one is closed.
 *
 * <pre>{@code
 * try (Tensor input = Tensor.of(new float[] { 1, 2, 3, 4 }, 2, 2)) {
 *     float first = input.getFloat(input.index(0, 0));
 * }
 * }</pre>
 *
 * Element access goes through a flat index ({@link #index(long...)} computes one from coordinates), reads and
 * writes primitives without boxing, and checks that the tensor's dtype matches the accessor.
 */
public final class Tensor implements AutoCloseable {

    private static final VarHandle CLOSED;

    static {
        try {
            CLOSED = MethodHandles.lookup().findVarHandle(Tensor.class, "closed", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private static final Cleaner CLEANER = Cleaner.create(Thread.ofPlatform().daemon().name("tensor-leak-detector").factory());

    private final DType dtype;
    private final long[] shape;
    private final long elementCount;
    private final TensorStorage storage;
    private final MemorySegment segment;
    private final boolean readOnly;
    /** For tracked references only: releases the storage if this tensor becomes unreachable unclosed. */
    private final LeakGuard leakGuard;
    private volatile boolean closed;

    private Tensor(DType dtype, long[] shape, TensorStorage storage, MemorySegment segment, boolean readOnly) {
        this(dtype, shape, storage, segment, readOnly, null);
    }

    private Tensor(DType dtype, long[] shape, TensorStorage storage, MemorySegment segment, boolean readOnly,
            LeakGuard leakGuard) {
        this.dtype = dtype;
        this.shape = shape;
        this.elementCount = elementCount(shape);
        this.storage = storage;
        this.segment = segment != null ? segment : storage.segment();
        this.readOnly = readOnly;
        this.leakGuard = leakGuard;
    }

    /** A zero-filled tensor in native memory, which ONNX Runtime reads in place. */
    public static Tensor allocate(DType dtype, long... shape) {
        long[] dims = checkShape(shape);
        return new Tensor(dtype, dims, TensorStorage.offHeap(byteSize(dtype, dims)), null, false);
    }

    /**
     * An off-heap tensor whose contents are undefined: for a producer that writes every element before anyone reads
     * the tensor, and should not pay for zeroing it first.
     */
    public static Tensor allocateUninitialized(DType dtype, long[] shape) {
        long[] dims = checkShape(shape);
        return new Tensor(dtype, dims, TensorStorage.offHeapUninitialized(byteSize(dtype, dims)), null, false);
    }

    /** A zero-filled tensor on the Java heap. */
    public static Tensor allocateHeap(DType dtype, long... shape) {
        long[] dims = checkShape(shape);
        return new Tensor(dtype, dims, TensorStorage.heap(byteSize(dtype, dims)), null, false);
    }

    /**
     * A tensor over memory the caller owns: nothing is copied, and closing the tensor does not free the segment.
     * The caller keeps the segment alive for as long as the tensor is used.
     */
    public static Tensor wrap(MemorySegment segment, DType dtype, long... shape) {
        long[] dims = checkShape(shape);
        long bytes = byteSize(dtype, dims);
        if (segment.byteSize() != bytes) {
            throw new TensorException("a " + dtype + " tensor of shape " + Arrays.toString(dims) + " needs " + bytes
                    + " bytes, the segment has " + segment.byteSize());
        }
        return new Tensor(dtype, dims, TensorStorage.borrowed(segment), segment, segment.isReadOnly());
    }

    /**
     * A tensor over a storage provider's memory, taking over the storage's first reference: closing the tensor (and
     * every view of it) frees the storage.
     */
    public static Tensor of(TensorStorage storage, DType dtype, long... shape) {
        long[] dims = checkShape(shape);
        long bytes = byteSize(dtype, dims);
        if (storage.segment().byteSize() != bytes) {
            throw new TensorException("a " + dtype + " tensor of shape " + Arrays.toString(dims) + " needs " + bytes
                    + " bytes, the storage has " + storage.segment().byteSize());
        }
        return new Tensor(dtype, dims, storage, null, storage.segment().isReadOnly());
    }

    /** An off-heap F32 tensor holding a copy of {@code data}. */
    public static Tensor of(float[] data, long... shape) {
        Tensor tensor = allocateUninitialized(DType.F32, shapeFor(data.length, shape));
        MemorySegment.copy(data, 0, tensor.segment, JAVA_FLOAT_UNALIGNED, 0, data.length);
        return tensor;
    }

    /** An off-heap F64 tensor holding a copy of {@code data}. */
    public static Tensor of(double[] data, long... shape) {
        Tensor tensor = allocateUninitialized(DType.F64, shapeFor(data.length, shape));
        MemorySegment.copy(data, 0, tensor.segment, JAVA_DOUBLE_UNALIGNED, 0, data.length);
        return tensor;
    }

    /** An off-heap I32 tensor holding a copy of {@code data}. */
    public static Tensor of(int[] data, long... shape) {
        Tensor tensor = allocateUninitialized(DType.I32, shapeFor(data.length, shape));
        MemorySegment.copy(data, 0, tensor.segment, JAVA_INT_UNALIGNED, 0, data.length);
        return tensor;
    }

    /** An off-heap I64 tensor holding a copy of {@code data}. */
    public static Tensor of(long[] data, long... shape) {
        Tensor tensor = allocateUninitialized(DType.I64, shapeFor(data.length, shape));
        MemorySegment.copy(data, 0, tensor.segment, JAVA_LONG_UNALIGNED, 0, data.length);
        return tensor;
    }

    /** An off-heap tensor of a one-byte dtype ({@code I8}, {@code U8}, {@code BOOL}) holding a copy of {@code data}. */
    public static Tensor of(DType dtype, byte[] data, long... shape) {
        if (dtype.byteSize() != 1) {
            throw new TensorException("byte data makes I8, U8 or BOOL tensors, not " + dtype);
        }
        Tensor tensor = allocateUninitialized(dtype, shapeFor(data.length, shape));
        MemorySegment.copy(data, 0, tensor.segment, JAVA_BYTE, 0, data.length);
        return tensor;
    }

    public DType dtype() {
        return dtype;
    }

    /** The extent of each dimension (a copy). */
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** The extent of one dimension. */
    public long dim(int axis) {
        return shape[axis];
    }

    /** Elements to skip to move by one along each dimension; tensors are always C-contiguous. */
    public long[] strides() {
        long[] strides = new long[shape.length];
        long stride = 1;
        for (int axis = shape.length - 1; axis >= 0; axis--) {
            strides[axis] = stride;
            stride *= shape[axis];
        }
        return strides;
    }

    public long elementCount() {
        return elementCount;
    }

    public long byteSize() {
        return elementCount * dtype.byteSize();
    }

    public StorageKind storageKind() {
        return storage.kind();
    }

    /** The storage under this tensor, shared by all its views; for storage providers. */
    public TensorStorage storage() {
        return storage;
    }

    public boolean isReadOnly() {
        return readOnly;
    }

    public boolean isClosed() {
        return closed;
    }

    /** Whether the memory under this tensor was freed (every reference closed); for tests. */
    boolean isFreed() {
        return storage.isFreed();
    }

    /**
     * The memory under this tensor, read-only if the tensor is. Valid until the last reference is closed: native
     * memory is then given back to the allocator, and a segment kept past that point must not be used.
     */
    public MemorySegment segment() {
        return checkOpen();
    }

    /**
     * A direct, native-order buffer over the tensor's memory: no copy. Only for off-heap tensors.
     */
    public ByteBuffer directBuffer() {
        MemorySegment memory = checkOpen();
        if (!memory.isNative()) {
            throw new TensorException("a heap tensor has no direct buffer; allocate it with Tensor.allocate");
        }
        return memory.asByteBuffer().order(ByteOrder.nativeOrder());
    }

    /** A new reference to the same memory; close it independently of this one. */
    public Tensor retain() {
        MemorySegment memory = checkOpen();
        storage.retain();
        return new Tensor(dtype, shape, storage, memory, readOnly);
    }

    /** A new, read-only reference to the same memory: consumers of it cannot write. Close it independently. */
    public Tensor asReadOnly() {
        MemorySegment memory = checkOpen();
        storage.retain();
        return new Tensor(dtype, shape, storage, memory.asReadOnly(), true);
    }

    /**
     * A new read-only reference for a consumer that may forget to close it: if it becomes unreachable unclosed,
     * {@code onLeak} is told (with {@code where}, e.g. the event-bus address it was received on) and the reference
     * is released, so a forgotten tensor cannot pin its memory forever.
     */
    public Tensor retainTracked(String where, Consumer<String> onLeak) {
        MemorySegment memory = checkOpen();
        storage.retain();
        LeakGuard guard = new LeakGuard(storage, dtype + Arrays.toString(shape) + " " + where, onLeak);
        Tensor tracked = new Tensor(dtype, shape, storage, memory.asReadOnly(), true, guard);
        guard.cleanable = CLEANER.register(tracked, guard);
        return tracked;
    }

    /**
     * Adds to what a leak report of this tracked reference says about where it came from, e.g. the event-bus address
     * it was delivered on. Does nothing for references that are not tracked.
     */
    public void noteOrigin(String where) {
        if (leakGuard != null) {
            leakGuard.description = leakGuard.description + " " + where;
        }
    }

    /** A new reference to the same bytes under another shape with the same element count. */
    public Tensor reshape(long... newShape) {
        long[] dims = checkShape(newShape);
        if (elementCount(dims) != elementCount) {
            throw new TensorException("cannot reshape " + this + " to " + Arrays.toString(dims)
                    + ": it has " + elementCount + " elements, the new shape " + elementCount(dims));
        }
        MemorySegment memory = checkOpen();
        storage.retain();
        return new Tensor(dtype, dims, storage, memory, readOnly);
    }

    /** A new reference to rows {@code [from, to)} of the first dimension, without a copy. */
    public Tensor slice(long from, long to) {
        if (shape.length == 0 || from < 0 || to > shape[0] || from > to) {
            throw new TensorException("cannot slice rows [" + from + ", " + to + ") of " + this);
        }
        long rowBytes = shape[0] == 0 ? 0 : byteSize() / shape[0];
        MemorySegment memory = checkOpen().asSlice(from * rowBytes, (to - from) * rowBytes);
        long[] dims = shape.clone();
        dims[0] = to - from;
        storage.retain();
        return new Tensor(dtype, dims, storage, memory, readOnly);
    }

    /** The flat index of the element at {@code coordinates}, for the accessors. */
    public long index(long... coordinates) {
        if (coordinates.length != shape.length) {
            throw new TensorException(this + " has rank " + shape.length + ", " + coordinates.length
                    + " coordinates were given");
        }
        long flat = 0;
        for (int axis = 0; axis < shape.length; axis++) {
            long c = coordinates[axis];
            if (c < 0 || c >= shape[axis]) {
                throw new TensorException("coordinate " + c + " is outside dimension " + axis + " of " + this);
            }
            flat = flat * shape[axis] + c;
        }
        return flat;
    }

    /** Reads an element of an F32, F16 or BF16 tensor as a float. */
    public float getFloat(long index) {
        return switch (dtype) {
            case F32 -> memory().get(JAVA_FLOAT_UNALIGNED, offset(index, 4));
            case F16 -> Float.float16ToFloat(memory().get(JAVA_SHORT_UNALIGNED, offset(index, 2)));
            case BF16 -> Float.intBitsToFloat((memory().get(JAVA_SHORT_UNALIGNED, offset(index, 2)) & 0xFFFF) << 16);
            default -> throw wrongType("getFloat", "F32, F16 or BF16");
        };
    }

    /** Writes an element of an F32, F16 or BF16 tensor from a float (rounded to nearest even for 16-bit types). */
    public void setFloat(long index, float value) {
        switch (dtype) {
            case F32 -> writable().set(JAVA_FLOAT_UNALIGNED, offset(index, 4), value);
            case F16 -> writable().set(JAVA_SHORT_UNALIGNED, offset(index, 2), Float.floatToFloat16(value));
            case BF16 -> writable().set(JAVA_SHORT_UNALIGNED, offset(index, 2), toBfloat16(value));
            default -> throw wrongType("setFloat", "F32, F16 or BF16");
        }
    }

    public double getDouble(long index) {
        expect(DType.F64, "getDouble");
        return memory().get(JAVA_DOUBLE_UNALIGNED, offset(index, 8));
    }

    public void setDouble(long index, double value) {
        expect(DType.F64, "setDouble");
        writable().set(JAVA_DOUBLE_UNALIGNED, offset(index, 8), value);
    }

    public int getInt(long index) {
        expect(DType.I32, "getInt");
        return memory().get(JAVA_INT_UNALIGNED, offset(index, 4));
    }

    public void setInt(long index, int value) {
        expect(DType.I32, "setInt");
        writable().set(JAVA_INT_UNALIGNED, offset(index, 4), value);
    }

    public long getLong(long index) {
        expect(DType.I64, "getLong");
        return memory().get(JAVA_LONG_UNALIGNED, offset(index, 8));
    }

    public void setLong(long index, long value) {
        expect(DType.I64, "setLong");
        writable().set(JAVA_LONG_UNALIGNED, offset(index, 8), value);
    }

    /** Reads an element of an I8 or U8 tensor as its raw byte (mask with 0xFF for U8). */
    public byte getByte(long index) {
        if (dtype != DType.I8 && dtype != DType.U8) {
            throw wrongType("getByte", "I8 or U8");
        }
        return memory().get(JAVA_BYTE, offset(index, 1));
    }

    public void setByte(long index, byte value) {
        if (dtype != DType.I8 && dtype != DType.U8) {
            throw wrongType("setByte", "I8 or U8");
        }
        writable().set(JAVA_BYTE, offset(index, 1), value);
    }

    public boolean getBoolean(long index) {
        expect(DType.BOOL, "getBoolean");
        return memory().get(JAVA_BYTE, offset(index, 1)) != 0;
    }

    public void setBoolean(long index, boolean value) {
        expect(DType.BOOL, "setBoolean");
        writable().set(JAVA_BYTE, offset(index, 1), (byte) (value ? 1 : 0));
    }

    /** Copies an F32 tensor's elements into a new array. */
    public float[] toFloatArray() {
        expect(DType.F32, "toFloatArray");
        return memory().toArray(JAVA_FLOAT_UNALIGNED);
    }

    public double[] toDoubleArray() {
        expect(DType.F64, "toDoubleArray");
        return memory().toArray(JAVA_DOUBLE_UNALIGNED);
    }

    public int[] toIntArray() {
        expect(DType.I32, "toIntArray");
        return memory().toArray(JAVA_INT_UNALIGNED);
    }

    public long[] toLongArray() {
        expect(DType.I64, "toLongArray");
        return memory().toArray(JAVA_LONG_UNALIGNED);
    }

    /** Copies the raw bytes, whatever the dtype, in native order. */
    public byte[] toByteArray() {
        return memory().toArray(JAVA_BYTE);
    }

    /** Overwrites an F32 tensor's elements from {@code data}, which must hold exactly {@link #elementCount()}. */
    public void copyFrom(float[] data) {
        expect(DType.F32, "copyFrom(float[])");
        checkLength(data.length);
        MemorySegment.copy(data, 0, writable(), JAVA_FLOAT_UNALIGNED, 0, data.length);
    }

    public void copyFrom(long[] data) {
        expect(DType.I64, "copyFrom(long[])");
        checkLength(data.length);
        MemorySegment.copy(data, 0, writable(), JAVA_LONG_UNALIGNED, 0, data.length);
    }

    public void copyFrom(int[] data) {
        expect(DType.I32, "copyFrom(int[])");
        checkLength(data.length);
        MemorySegment.copy(data, 0, writable(), JAVA_INT_UNALIGNED, 0, data.length);
    }

    /** Overwrites this tensor with another of the same dtype and element count, whatever their storage. */
    public void copyFrom(Tensor source) {
        if (source.dtype != dtype || source.elementCount != elementCount) {
            throw new TensorException("cannot copy " + source + " into " + this + ": dtype and element count must match");
        }
        MemorySegment.copy(source.memory(), 0, writable(), 0, byteSize());
    }

    /** Releases this reference; the memory is freed when the last reference is closed. Idempotent. */
    @Override
    public void close() {
        if (CLOSED.compareAndSet(this, false, true)) {
            if (leakGuard != null) {
                leakGuard.closed = true;
                leakGuard.cleanable.clean();
            } else {
                storage.release();
            }
        }
    }

    /** The clean-up of a tracked reference; holds no reference to the tensor, so that it can become unreachable. */
    private static final class LeakGuard implements Runnable {
        private final TensorStorage storage;
        private final Consumer<String> onLeak;
        volatile String description;
        volatile boolean closed;
        Cleaner.Cleanable cleanable;

        LeakGuard(TensorStorage storage, String description, Consumer<String> onLeak) {
            this.storage = storage;
            this.description = description;
            this.onLeak = onLeak;
        }

        @Override
        public void run() {
            if (!closed) {
                onLeak.accept(description);
            }
            storage.release();
        }
    }

    @Override
    public String toString() {
        return "Tensor[" + dtype + " " + Arrays.toString(shape) + " " + storage.kind().name().toLowerCase().replace('_', '-')
                + (readOnly ? " read-only" : "") + (closed ? " closed" : "") + "]";
    }

    private MemorySegment memory() {
        return checkOpen();
    }

    private MemorySegment checkOpen() {
        if (closed) {
            throw new TensorException(this + " is closed: retain() a tensor that must outlive its producer");
        }
        return segment;
    }

    private MemorySegment writable() {
        if (readOnly) {
            throw new TensorException(this + " is a read-only view: write into the tensor that produced it");
        }
        return checkOpen();
    }

    private long offset(long index, int width) {
        if (index < 0 || index >= elementCount) {
            throw new TensorException("index " + index + " is outside " + this + " (" + elementCount + " elements)");
        }
        return index * width;
    }

    private void expect(DType expected, String accessor) {
        if (dtype != expected) {
            throw wrongType(accessor, expected.name());
        }
    }

    private TensorException wrongType(String accessor, String expected) {
        return new TensorException(accessor + " reads " + expected + " tensors; this is " + this);
    }

    private void checkLength(int length) {
        if (length != elementCount) {
            throw new TensorException(this + " has " + elementCount + " elements; " + length + " were given");
        }
    }

    private static short toBfloat16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if (Float.isNaN(value)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    private static long[] checkShape(long[] shape) {
        for (long d : shape) {
            if (d < 0) {
                throw new TensorException("shape " + Arrays.toString(shape) + " has a negative dimension");
            }
        }
        return shape.clone();
    }

    private static long[] shapeFor(int length, long[] shape) {
        long[] dims = shape.length == 0 ? new long[] { length } : checkShape(shape);
        if (elementCount(dims) != length) {
            throw new TensorException("shape " + Arrays.toString(dims) + " holds " + elementCount(dims)
                    + " elements; " + length + " were given");
        }
        return dims;
    }

    static long elementCount(long[] shape) {
        long count = 1;
        for (long d : shape) {
            count = Math.multiplyExact(count, d);
        }
        return count;
    }

    private static long byteSize(DType dtype, long[] shape) {
        return Math.multiplyExact(elementCount(shape), dtype.byteSize());
    }
}
