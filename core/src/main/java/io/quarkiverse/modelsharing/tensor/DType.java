package io.quarkiverse.modelsharing.tensor;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Element types a {@link Tensor} can hold, with their size in bytes and their ONNX {@code TensorProto.DataType} code.
 */
public enum DType {
    F32(4, 1),
    F16(2, 10),
    BF16(2, 16),
    F64(8, 11),
    I8(1, 3),
    U8(1, 2),
    I16(2, 5),
    U16(2, 4),
    I32(4, 6),
    U32(4, 12),
    I64(8, 7),
    U64(8, 13),
    BOOL(1, 9);

    private final int byteSize;
    private final int onnxCode;

    DType(int byteSize, int onnxCode) {
        this.byteSize = byteSize;
        this.onnxCode = onnxCode;
    }

    /** Bytes one element takes. */
    public int byteSize() {
        return byteSize;
    }

    /** F32, F16, BF16 or F64: values, never indices. */
    public boolean isFloatingPoint() {
        return this == F32 || this == F16 || this == BF16 || this == F64;
    }

    /** U8, U16, U32 or U64. */
    public boolean isUnsigned() {
        return this == U8 || this == U16 || this == U32 || this == U64;
    }

    /** The element type's code in ONNX's {@code TensorProto.DataType}. */
    public int onnxCode() {
        return onnxCode;
    }

    /**
     * The dtype for an ONNX {@code TensorProto.DataType} code.
     *
     * @throws TensorException if the code is not one of the supported types
     */
    public static DType fromOnnxCode(int code) {
        for (DType type : values()) {
            if (type.onnxCode == code) {
                return type;
            }
        }
        throw new TensorException("ONNX element type " + code + " is not supported; supported types are "
                + Arrays.stream(values()).map(t -> t.name() + " (" + t.onnxCode + ")").collect(Collectors.joining(", ")));
    }
}
