package io.quarkiverse.modelsharing.onnx;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.TensorInfo;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;

/**
 * Moves tensors across the ONNX Runtime boundary: off-heap and shared tensors go in (and pinned outputs come out)
 * as views of their own memory, with no copy.
 */
public final class OrtTensors {

    private OrtTensors() {
    }

    /**
     * An ONNX Runtime tensor over the tensor's own memory: ONNX Runtime reads it in place, so writes to the tensor
     * are seen by the next run. The tensor must stay open until the returned value is closed. Off-heap only.
     */
    public static OnnxTensor view(OrtEnvironment environment, Tensor tensor) throws OrtException {
        if (tensor.storageKind() == StorageKind.HEAP) {
            throw new TensorException("ONNX Runtime reads only native memory in place; " + tensor
                    + " is on the heap: copy it with Tensor.allocate(...).copyFrom(tensor)");
        }
        ByteBuffer buffer = tensor.directBuffer();
        return OnnxTensor.createTensor(environment, buffer, tensor.shape(), javaType(tensor.dtype()));
    }

    /** Copies an ONNX Runtime output into a new tensor from {@code allocator}. */
    public static Tensor copyOut(String model, String name, OnnxValue value, TensorAllocator allocator) {
        if (!(value instanceof OnnxTensor ortTensor)) {
            throw new TensorException("Output '" + name + "' of model '" + model + "' is a " + value.getType()
                    + ", not a tensor; only tensor outputs are supported");
        }
        TensorInfo info = ortTensor.getInfo();
        DType dtype = dtype(info);
        Tensor tensor = allocator.allocateUninitialized(dtype, info.getShape());
        ByteBuffer bytes = ortTensor.getByteBuffer().order(ByteOrder.nativeOrder());
        if (bytes.remaining() != tensor.byteSize()) {
            tensor.close();
            throw new TensorException("Output '" + name + "' of model '" + model + "' holds " + bytes.remaining()
                    + " bytes, its shape " + Arrays.toString(info.getShape()) + " needs " + tensor.byteSize());
        }
        MemorySegment.copy(MemorySegment.ofBuffer(bytes), 0, tensor.segment(), 0, tensor.byteSize());
        return tensor;
    }

    /** The dtype of an ONNX Runtime tensor. */
    static DType dtype(TensorInfo info) {
        return switch (info.type) {
            case FLOAT -> DType.F32;
            case FLOAT16 -> DType.F16;
            case BFLOAT16 -> DType.BF16;
            case DOUBLE -> DType.F64;
            case INT8 -> DType.I8;
            case UINT8 -> DType.U8;
            case INT16 -> DType.I16;
            case INT32 -> DType.I32;
            case INT64 -> DType.I64;
            case BOOL -> DType.BOOL;
            default -> throw new TensorException("ONNX Runtime type " + info.type + " (" + info.onnxType
                    + ") is not supported; supported types are " + Arrays.toString(DType.values()));
        };
    }

    static OnnxJavaType javaType(DType dtype) {
        return switch (dtype) {
            case F32 -> OnnxJavaType.FLOAT;
            case F16 -> OnnxJavaType.FLOAT16;
            case BF16 -> OnnxJavaType.BFLOAT16;
            case F64 -> OnnxJavaType.DOUBLE;
            case I8 -> OnnxJavaType.INT8;
            case U8 -> OnnxJavaType.UINT8;
            case I32 -> OnnxJavaType.INT32;
            case I64 -> OnnxJavaType.INT64;
            case BOOL -> OnnxJavaType.BOOL;
            case I16 -> OnnxJavaType.INT16;
            case U16, U32, U64 -> throw new TensorException("ONNX Runtime's Java API cannot pass " + dtype
                    + " tensors; convert them to a signed type of twice the width, or run the model where they are"
                    + " supported (placement=remote)");
        };
    }
}
