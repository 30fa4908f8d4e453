package io.quarkiverse.modelsharing.grpc;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

import com.google.protobuf.ByteString;

import io.quarkiverse.modelsharing.grpc.v2.InferTensorContents;
import io.quarkiverse.modelsharing.grpc.v2.ModelInferRequest.InferInputTensor;
import io.quarkiverse.modelsharing.runtime.oip.Datatypes;
import io.quarkiverse.modelsharing.runtime.oip.InferenceProtocolException;
import io.quarkiverse.modelsharing.runtime.oip.Shapes;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;

/**
 * Tensors as the protocol's gRPC messages carry them: an input's typed {@code contents} or its entry of
 * {@code raw_input_contents} (little-endian, row-major bytes); outputs always as {@code raw_output_contents}.
 */
final class GrpcTensors {

    private GrpcTensors() {
    }

    /**
     * The input's elements in a new tensor, each checked against its datatype.
     *
     * @param raw its entry of {@code raw_input_contents}, or null if the request gives typed contents
     */
    static Tensor input(InferInputTensor input, ByteString raw, TensorAllocator allocator) {
        String what = "input '" + input.getName() + "'";
        DType dtype = Datatypes.dtype(input.getDatatype().isEmpty() ? null : input.getDatatype(), what);
        long[] shape = input.getShapeList().stream().mapToLong(Long::longValue).toArray();
        long count = elements(shape, what);
        if (raw != null) {
            if (input.hasContents()) {
                throw badRequest("The " + what + " gives both contents and raw_input_contents: give one");
            }
            if (raw.size() != count * dtype.byteSize()) {
                throw badRequest("The " + what + " has " + raw.size() + " bytes of raw_input_contents, but its shape "
                        + Arrays.toString(shape) + " of " + input.getDatatype() + " is " + count * dtype.byteSize()
                        + " bytes");
            }
            Tensor tensor = allocator.allocateUninitialized(dtype, shape);
            raw.copyTo(tensor.directBuffer());
            return tensor;
        }
        InferTensorContents contents = input.getContents();
        int given = switch (dtype) {
            case BOOL -> contents.getBoolContentsCount();
            case I8, I16, I32 -> contents.getIntContentsCount();
            case I64 -> contents.getInt64ContentsCount();
            case U8, U16, U32 -> contents.getUintContentsCount();
            case U64 -> contents.getUint64ContentsCount();
            case F32 -> contents.getFp32ContentsCount();
            case F64 -> contents.getFp64ContentsCount();
            case F16, BF16 -> throw badRequest("The " + what + " is " + input.getDatatype() + ", which typed contents do"
                    + " not carry: send it in raw_input_contents");
        };
        if (given != count) {
            throw badRequest("The " + what + "'s contents hold " + given + " elements, but its shape "
                    + Arrays.toString(shape) + " holds " + count);
        }
        Tensor tensor = allocator.allocateUninitialized(dtype, shape);
        try {
            fill(tensor.segment(), dtype, contents, (int) count, what);
        } catch (RuntimeException e) {
            tensor.close();
            throw e;
        }
        return tensor;
    }

    private static void fill(MemorySegment memory, DType dtype, InferTensorContents contents, int count, String what) {
        for (int i = 0; i < count; i++) {
            switch (dtype) {
                case BOOL -> memory.set(JAVA_BYTE, i, (byte) (contents.getBoolContents(i) ? 1 : 0));
                case I8 -> memory.set(JAVA_BYTE, i, (byte) within(contents.getIntContents(i), Byte.MIN_VALUE,
                        Byte.MAX_VALUE, what, dtype));
                case I16 -> memory.set(JAVA_SHORT_UNALIGNED, i * 2L, (short) within(contents.getIntContents(i),
                        Short.MIN_VALUE, Short.MAX_VALUE, what, dtype));
                case I32 -> memory.set(JAVA_INT_UNALIGNED, i * 4L, contents.getIntContents(i));
                case I64 -> memory.set(JAVA_LONG_UNALIGNED, i * 8L, contents.getInt64Contents(i));
                case U8 -> memory.set(JAVA_BYTE, i, (byte) within(Integer.toUnsignedLong(contents.getUintContents(i)), 0,
                        0xFF, what, dtype));
                case U16 -> memory.set(JAVA_SHORT_UNALIGNED, i * 2L, (short) within(
                        Integer.toUnsignedLong(contents.getUintContents(i)), 0, 0xFFFF, what, dtype));
                case U32 -> memory.set(JAVA_INT_UNALIGNED, i * 4L, contents.getUintContents(i));
                case U64 -> memory.set(JAVA_LONG_UNALIGNED, i * 8L, contents.getUint64Contents(i));
                case F32 -> memory.set(JAVA_FLOAT_UNALIGNED, i * 4L, contents.getFp32Contents(i));
                case F64 -> memory.set(JAVA_DOUBLE_UNALIGNED, i * 8L, contents.getFp64Contents(i));
                case F16, BF16 -> throw new IllegalStateException(dtype + " has no typed contents");
            }
        }
    }

    private static long within(long value, long min, long max, String what, DType dtype) {
        if (value < min || value > max) {
            throw badRequest("The " + what + " is " + Datatypes.name(dtype) + ": its contents hold " + value
                    + ", outside the range of " + Datatypes.name(dtype));
        }
        return value;
    }

    /** The shape's element count, within what one message's repeated contents can hold. */
    private static long elements(long[] shape, String what) {
        long count = Shapes.elementCount(shape, what);
        if (count > Integer.MAX_VALUE) {
            throw badRequest("The " + what + " has shape " + Arrays.toString(shape) + ", too many elements for one"
                    + " message");
        }
        return count;
    }

    /** The output's bytes, little-endian and row-major, for {@code raw_output_contents}. */
    static ByteString raw(Tensor tensor) {
        return ByteString.copyFrom(tensor.segment().asByteBuffer());
    }

    static InferenceProtocolException badRequest(String message) {
        return new InferenceProtocolException(400, message);
    }
}
