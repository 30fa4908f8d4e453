package io.quarkiverse.modelsharing.dlpack;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.TensorException;

/** DLPack's {@code DLDataType} codes for the project's dtypes: kDLInt 0, kDLUInt 1, kDLFloat 2, kDLBfloat 4, kDLBool 6. */
final class DLDataTypes {

    static final int INT = 0;
    static final int UINT = 1;
    static final int FLOAT = 2;
    static final int BFLOAT = 4;
    static final int BOOL = 6;

    private DLDataTypes() {
    }

    static int code(DType dtype) {
        return switch (dtype) {
            case F32, F16, F64 -> FLOAT;
            case BF16 -> BFLOAT;
            case I8, I16, I32, I64 -> INT;
            case U8, U16, U32, U64 -> UINT;
            case BOOL -> BOOL;
        };
    }

    static DType dtype(int code, int bits, int lanes) {
        if (lanes != 1) {
            throw new TensorException("DLPack vector types (lanes " + lanes + ") are not supported");
        }
        DType dtype = switch (code * 1000 + bits) {
            case FLOAT * 1000 + 32 -> DType.F32;
            case FLOAT * 1000 + 16 -> DType.F16;
            case FLOAT * 1000 + 64 -> DType.F64;
            case BFLOAT * 1000 + 16 -> DType.BF16;
            case INT * 1000 + 8 -> DType.I8;
            case INT * 1000 + 16 -> DType.I16;
            case UINT * 1000 + 16 -> DType.U16;
            case UINT * 1000 + 32 -> DType.U32;
            case UINT * 1000 + 64 -> DType.U64;
            case INT * 1000 + 32 -> DType.I32;
            case INT * 1000 + 64 -> DType.I64;
            case UINT * 1000 + 8 -> DType.U8;
            case BOOL * 1000 + 8 -> DType.BOOL;
            default -> null;
        };
        if (dtype == null) {
            throw new TensorException("DLPack dtype code " + code + " with " + bits + " bits is not supported");
        }
        return dtype;
    }
}
