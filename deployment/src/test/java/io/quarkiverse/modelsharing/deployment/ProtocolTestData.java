package io.quarkiverse.modelsharing.deployment;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import io.quarkiverse.modelsharing.onnx.OnnxModelBuilder;
import io.quarkiverse.modelsharing.tensor.DType;

/** Models and bodies for the Open Inference Protocol tests; add it to each test's application archive. */
final class ProtocolTestData {

    /** The datatypes ONNX Runtime's Java API runs, by the protocol's names. */
    static final Map<String, DType> RUNNABLE = Map.of("BOOL", DType.BOOL, "UINT8", DType.U8, "INT8", DType.I8, "INT16",
            DType.I16, "INT32", DType.I32, "INT64", DType.I64, "FP16", DType.F16, "FP32", DType.F32, "FP64", DType.F64);

    private ProtocolTestData() {
    }

    /** Two inputs, two outputs: {@code sum = a + b}, {@code product = a * b}, FP32 [2, 2]. */
    static byte[] sumAndProduct() {
        return OnnxModelBuilder.create("arith").input("a", DType.F32, 2, 2).input("b", DType.F32, 2, 2)
                .output("sum", DType.F32, 2, 2).output("product", DType.F32, 2, 2)
                .node("Add", List.of("a", "b"), List.of("sum")).node("Mul", List.of("a", "b"), List.of("product")).build();
    }

    /** Little-endian FP32 bytes, as binary tensor data carries them. */
    static byte[] floats(float... values) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float value : values) {
            buffer.putFloat(value);
        }
        return buffer.array();
    }

    static byte[] concat(String header, byte[] data) {
        return concat(header.getBytes(StandardCharsets.UTF_8), data);
    }

    static byte[] concat(byte[] a, byte[] b) {
        byte[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }

    /** A request body with one JSON input {@code x}. */
    static String json(String datatype, String shape, String data) {
        return "{\"inputs\": [{\"name\": \"x\", \"shape\": " + shape + ", \"datatype\": \"" + datatype + "\", \"data\": "
                + data + "}]}";
    }
}
