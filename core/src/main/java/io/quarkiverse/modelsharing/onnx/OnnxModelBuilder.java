package io.quarkiverse.modelsharing.onnx;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.quarkiverse.modelsharing.tensor.DType;

/**
 * Writes small ONNX models from code, for tests, demos and benchmarks that must not download or check in binaries.
 *
 * <pre>{@code
 * byte[] model = OnnxModelBuilder.create("affine")
 *         .input("x", DType.F32, -1, 4)
 *         .initializer("w", new float[8], 4, 2)
 *         .node("MatMul", List.of("x", "w"), List.of("y"))
 *         .output("y", DType.F32, -1, 2)
 *         .build();
 * }</pre>
 *
 * A dimension of {@code -1} is left free (symbolic). The models use IR version 8 and opset 17.
 */
public final class OnnxModelBuilder {

    private static final long IR_VERSION = 8;
    private static final long OPSET = 17;

    private final String name;
    private final List<ProtoWriter> inputs = new ArrayList<>();
    private final List<ProtoWriter> outputs = new ArrayList<>();
    private final List<ProtoWriter> initializers = new ArrayList<>();
    private final List<ProtoWriter> nodes = new ArrayList<>();

    private OnnxModelBuilder(String name) {
        this.name = name;
    }

    public static OnnxModelBuilder create(String graphName) {
        return new OnnxModelBuilder(graphName);
    }

    public OnnxModelBuilder input(String name, DType dtype, long... shape) {
        inputs.add(valueInfo(name, dtype, shape));
        return this;
    }

    public OnnxModelBuilder output(String name, DType dtype, long... shape) {
        outputs.add(valueInfo(name, dtype, shape));
        return this;
    }

    /** A constant F32 weight, stored inside the model. */
    public OnnxModelBuilder initializer(String name, float[] values, long... shape) {
        MemorySegment raw = MemorySegment.ofArray(new byte[values.length * Float.BYTES]);
        for (int i = 0; i < values.length; i++) {
            raw.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, values[i]);
        }
        return initializer(name, DType.F32, raw, shape);
    }

    /** A constant I64 tensor, stored inside the model: axes or shapes that operators take as inputs. */
    public OnnxModelBuilder initializer(String name, long[] values, long... shape) {
        MemorySegment raw = MemorySegment.ofArray(new byte[values.length * Long.BYTES]);
        for (int i = 0; i < values.length; i++) {
            raw.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, values[i]);
        }
        return initializer(name, DType.I64, raw, shape);
    }

    private OnnxModelBuilder initializer(String name, DType dtype, MemorySegment raw, long[] shape) {
        ProtoWriter tensor = new ProtoWriter();
        for (long dim : shape) {
            tensor.varint(1, dim);
        }
        tensor.varint(2, dtype.onnxCode()).string(8, name).bytes(9, raw.toArray(ValueLayout.JAVA_BYTE));
        initializers.add(tensor);
        return this;
    }

    public OnnxModelBuilder node(String opType, List<String> nodeInputs, List<String> nodeOutputs) {
        return node(opType, nodeInputs, nodeOutputs, Map.of());
    }

    /** A node with integer attributes, e.g. {@code Map.of("keepdims", 0L)}. */
    public OnnxModelBuilder node(String opType, List<String> nodeInputs, List<String> nodeOutputs,
            Map<String, Long> intAttributes) {
        ProtoWriter node = new ProtoWriter();
        nodeInputs.forEach(input -> node.string(1, input));
        nodeOutputs.forEach(output -> node.string(2, output));
        node.string(3, opType.toLowerCase() + "_" + nodes.size()).string(4, opType);
        // AttributeProto: name = 1, i = 3, type = 20 (INT = 2)
        intAttributes.forEach((key, value) -> node.message(5, new ProtoWriter().string(1, key).varint(3, value).varint(20, 2)));
        nodes.add(node);
        return this;
    }

    /** The serialized {@code ModelProto}. */
    public byte[] build() {
        ProtoWriter graph = new ProtoWriter();
        nodes.forEach(node -> graph.message(1, node));
        graph.string(2, name);
        initializers.forEach(initializer -> graph.message(5, initializer));
        inputs.forEach(input -> graph.message(11, input));
        outputs.forEach(output -> graph.message(12, output));
        return new ProtoWriter()
                .varint(1, IR_VERSION)
                .string(2, "quarkus-model-sharing")
                .message(7, graph)
                .message(8, new ProtoWriter().string(1, "").varint(2, OPSET))
                .toByteArray();
    }

    private static ProtoWriter valueInfo(String name, DType dtype, long[] shape) {
        ProtoWriter dims = new ProtoWriter();
        for (int axis = 0; axis < shape.length; axis++) {
            ProtoWriter dim = shape[axis] < 0 ? new ProtoWriter().string(2, axis == 0 ? "batch" : "d" + axis)
                    : new ProtoWriter().varint(1, shape[axis]);
            dims.message(1, dim);
        }
        ProtoWriter tensorType = new ProtoWriter().varint(1, dtype.onnxCode()).message(2, dims);
        return new ProtoWriter().string(1, name).message(2, new ProtoWriter().message(1, tensorType));
    }
}
