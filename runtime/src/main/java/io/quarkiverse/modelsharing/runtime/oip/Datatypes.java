package io.quarkiverse.modelsharing.runtime.oip;

import io.quarkiverse.modelsharing.tensor.DType;

/** The protocol's datatype names for the project's dtypes, for its REST and gRPC front ends. */
public final class Datatypes {

    public static final String SUPPORTED = "BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64";

    private Datatypes() {
    }

    public static String name(DType dtype) {
        return switch (dtype) {
            case BOOL -> "BOOL";
            case U8 -> "UINT8";
            case U16 -> "UINT16";
            case U32 -> "UINT32";
            case U64 -> "UINT64";
            case I8 -> "INT8";
            case I16 -> "INT16";
            case I32 -> "INT32";
            case I64 -> "INT64";
            case F16 -> "FP16";
            case BF16 -> "BF16";
            case F32 -> "FP32";
            case F64 -> "FP64";
        };
    }

    /**
     * The dtype a datatype name stands for.
     *
     * @param what the tensor, for the message: {@code input 'x'}
     */
    public static DType dtype(String datatype, String what) {
        if (datatype == null) {
            throw InferenceProtocolException.badRequest("The " + what + " has no datatype: give one of " + SUPPORTED);
        }
        return switch (datatype) {
            case "BOOL" -> DType.BOOL;
            case "UINT8" -> DType.U8;
            case "UINT16" -> DType.U16;
            case "UINT32" -> DType.U32;
            case "UINT64" -> DType.U64;
            case "INT8" -> DType.I8;
            case "INT16" -> DType.I16;
            case "INT32" -> DType.I32;
            case "INT64" -> DType.I64;
            case "FP16" -> DType.F16;
            case "BF16" -> DType.BF16;
            case "FP32" -> DType.F32;
            case "FP64" -> DType.F64;
            case "BYTES" -> throw InferenceProtocolException.badRequest("The " + what + " is BYTES: string tensors are not"
                    + " supported; give token ids or another numeric datatype");
            default -> throw InferenceProtocolException.badRequest("The " + what + " has datatype '" + datatype
                    + "', which is not one of " + SUPPORTED);
        };
    }
}
