package io.quarkiverse.modelsharing.shm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.HexFormat;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.TensorException;

/**
 * Names a tensor in a shared-memory pool in a few dozen bytes: what crosses a thread, a process or the event bus
 * instead of the tensor's bytes.
 *
 * <pre>
 * offset  size     field (little-endian)
 *  0      4        magic "QMST" (0x54534D51)
 *  4      1        format version (1)
 *  5      1        dtype, as ONNX TensorProto.DataType (1 = F32, 7 = I64, ...)
 *  6      1        rank, 0 to 8
 *  7      1        flags (bit 0: read-only)
 *  8      16       pool id: the 32 hex digits in the pool file's name, as bytes
 * 24      8        generation of the block
 * 32      8        offset of the block's data in the pool file (64-byte aligned; its header is the 64 bytes before)
 * 40      8        offset of the tensor's first byte within the block (non-zero for slices)
 * 48      8        length of the tensor in bytes
 * 56      8 * rank shape, C order
 * </pre>
 *
 * A 2-D tensor's descriptor is 72 bytes. {@link #decode(ByteBuffer)} checks every field that it can check alone;
 * the pool checks offset, length and generation against the file before a byte is read.
 */
public record TensorDescriptor(String poolId, long generation, long offset, long byteOffset, long length, DType dtype,
        long[] shape, boolean readOnly) {

    public static final int MAGIC = 0x54534D51;
    public static final int VERSION = 1;
    public static final int MAX_RANK = 8;
    static final int FIXED_BYTES = 56;

    public TensorDescriptor {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Encoded size in bytes. */
    public int byteSize() {
        return FIXED_BYTES + 8 * shape.length;
    }

    public byte[] encode() {
        ByteBuffer out = ByteBuffer.allocate(byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        encodeInto(out);
        return out.array();
    }

    public void encodeInto(ByteBuffer out) {
        out.order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(MAGIC).put((byte) VERSION).put((byte) dtype.onnxCode()).put((byte) shape.length)
                .put((byte) (readOnly ? 1 : 0)).put(HexFormat.of().parseHex(poolId))
                .putLong(generation).putLong(offset).putLong(byteOffset).putLong(length);
        for (long dim : shape) {
            out.putLong(dim);
        }
    }

    public static TensorDescriptor decode(byte[] bytes) {
        return decode(ByteBuffer.wrap(bytes));
    }

    /** Reads a descriptor, refusing anything malformed with a message that says what. */
    public static TensorDescriptor decode(ByteBuffer in) {
        in = in.slice().order(ByteOrder.LITTLE_ENDIAN);
        if (in.remaining() < FIXED_BYTES) {
            throw malformed("it has " + in.remaining() + " bytes, at least " + FIXED_BYTES + " are needed");
        }
        int magic = in.getInt();
        if (magic != MAGIC) {
            throw malformed("bad magic 0x" + Integer.toHexString(magic));
        }
        int version = in.get();
        if (version != VERSION) {
            throw malformed("format version " + version + ", this reader knows " + VERSION);
        }
        DType dtype;
        try {
            dtype = DType.fromOnnxCode(in.get());
        } catch (TensorException e) {
            throw malformed(e.getMessage());
        }
        int rank = in.get();
        if (rank < 0 || rank > MAX_RANK) {
            throw malformed("rank " + rank + " is outside 0.." + MAX_RANK);
        }
        boolean readOnly = (in.get() & 1) != 0;
        byte[] id = new byte[16];
        in.get(id);
        long generation = in.getLong();
        long offset = in.getLong();
        long byteOffset = in.getLong();
        long length = in.getLong();
        if (in.remaining() < 8L * rank) {
            throw malformed("rank " + rank + " needs " + 8 * rank + " bytes of shape, " + in.remaining() + " remain");
        }
        long[] shape = new long[rank];
        long elements = 1;
        for (int axis = 0; axis < rank; axis++) {
            shape[axis] = in.getLong();
            if (shape[axis] < 0) {
                throw malformed("dimension " + axis + " is negative");
            }
            try {
                elements = Math.multiplyExact(elements, shape[axis]);
            } catch (ArithmeticException e) {
                throw malformed("the shape " + Arrays.toString(shape) + " overflows");
            }
        }
        if (generation <= 0 || offset < 0 || byteOffset < 0 || length < 0) {
            throw malformed("generation " + generation + ", offset " + offset + ", byte offset " + byteOffset
                    + ", length " + length);
        }
        long expected;
        try {
            expected = Math.multiplyExact(elements, dtype.byteSize());
        } catch (ArithmeticException e) {
            throw malformed("the shape overflows");
        }
        if (expected != length) {
            throw malformed("a " + dtype + " tensor of shape " + Arrays.toString(shape) + " is " + expected
                    + " bytes, the descriptor says " + length);
        }
        return new TensorDescriptor(HexFormat.of().formatHex(id), generation, offset, byteOffset, length, dtype, shape,
                readOnly);
    }

    private static SharedMemoryException malformed(String why) {
        return new SharedMemoryException("Malformed tensor descriptor: " + why);
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof TensorDescriptor that && poolId.equals(that.poolId) && generation == that.generation
                && offset == that.offset && byteOffset == that.byteOffset && length == that.length && dtype == that.dtype
                && readOnly == that.readOnly
                && Arrays.equals(shape, that.shape);
    }

    @Override
    public int hashCode() {
        return poolId.hashCode() * 31 + Long.hashCode(generation);
    }

    @Override
    public String toString() {
        return "TensorDescriptor[pool " + poolId + " #" + generation + " @" + offset + (byteOffset > 0 ? "+" + byteOffset : "")
                + " " + length + " bytes " + dtype
                + Arrays.toString(shape) + (readOnly ? " read-only" : "") + "]";
    }
}
