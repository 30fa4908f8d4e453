package io.quarkiverse.modelsharing.onnx;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.TensorException;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

/**
 * Reads an ONNX {@code ModelProto}'s header, inputs and outputs straight from its protobuf encoding, so that a
 * build can check a model file without starting ONNX Runtime. Field numbers are those of {@code onnx.proto3}.
 */
public final class OnnxModelInspector {

    // ModelProto
    private static final int MODEL_IR_VERSION = 1;
    private static final int MODEL_PRODUCER_NAME = 2;
    private static final int MODEL_GRAPH = 7;
    private static final int MODEL_OPSET_IMPORT = 8;
    // OperatorSetIdProto
    private static final int OPSET_DOMAIN = 1;
    private static final int OPSET_VERSION = 2;
    // GraphProto
    private static final int GRAPH_NODE = 1;
    private static final int GRAPH_INITIALIZER = 5;
    // NodeProto
    private static final int NODE_OP_TYPE = 4;
    private static final int GRAPH_INPUT = 11;
    private static final int GRAPH_OUTPUT = 12;
    // ValueInfoProto, TypeProto, TypeProto.Tensor, TensorShapeProto, Dimension
    private static final int VALUE_NAME = 1;
    private static final int VALUE_TYPE = 2;
    private static final int TYPE_TENSOR = 1;
    private static final int TENSOR_TYPE_ELEM_TYPE = 1;
    private static final int TENSOR_TYPE_SHAPE = 2;
    private static final int SHAPE_DIM = 1;
    private static final int DIM_VALUE = 1;
    // TensorProto
    private static final int TENSOR_NAME = 8;

    private OnnxModelInspector() {
    }

    /** Inspects a model file, mapping it rather than reading it onto the heap. */
    public static OnnxModelInfo inspect(Path file) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ); Arena arena = Arena.ofConfined()) {
            MemorySegment mapped = channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size(), arena);
            return inspect(mapped, file.toString());
        }
    }

    /** Inspects a model wherever it is: a file mapped, anything else read. */
    public static OnnxModelInfo inspect(ModelSource source) throws IOException {
        return source instanceof ModelSource.FileSource file ? inspect(file.path())
                : inspect(source.readAllBytes(), source.describe());
    }

    /** Inspects a model held in memory; {@code source} names it in error messages. */
    public static OnnxModelInfo inspect(byte[] model, String source) {
        return inspect(MemorySegment.ofArray(model), source);
    }

    static OnnxModelInfo inspect(MemorySegment model, String source) {
        if (model.byteSize() == 0) {
            throw new InvalidModelException(source + " is not a valid ONNX model: it is empty");
        }
        ProtoReader reader = new ProtoReader(model, source);
        long irVersion = 0;
        String producer = "";
        Map<String, Long> opsets = new LinkedHashMap<>();
        ProtoReader graph = null;
        while (reader.hasMore()) {
            reader.nextField();
            switch (reader.fieldNumber()) {
                case MODEL_IR_VERSION -> {
                    reader.expect(ProtoReader.VARINT);
                    irVersion = reader.readVarint();
                }
                case MODEL_PRODUCER_NAME -> producer = reader.readString();
                case MODEL_OPSET_IMPORT -> readOpset(reader.readMessage(), opsets);
                case MODEL_GRAPH -> graph = reader.readMessage();
                default -> reader.skip();
            }
        }
        if (irVersion <= 0) {
            throw new InvalidModelException(source + " is not a valid ONNX model: it declares no IR version");
        }
        if (graph == null) {
            throw new InvalidModelException(source + " is not a valid ONNX model: it has no graph");
        }
        return readGraph(graph, source, irVersion, opsets, producer);
    }

    private static void readOpset(ProtoReader opset, Map<String, Long> opsets) {
        String domain = "";
        long version = 0;
        while (opset.hasMore()) {
            opset.nextField();
            switch (opset.fieldNumber()) {
                case OPSET_DOMAIN -> domain = opset.readString();
                case OPSET_VERSION -> {
                    opset.expect(ProtoReader.VARINT);
                    version = opset.readVarint();
                }
                default -> opset.skip();
            }
        }
        opsets.put(domain, version);
    }

    private static OnnxModelInfo readGraph(ProtoReader graph, String source, long irVersion, Map<String, Long> opsets,
            String producer) {
        List<TensorSpec> inputs = new ArrayList<>();
        List<TensorSpec> outputs = new ArrayList<>();
        Set<String> initializers = new HashSet<>();
        long initializerBytes = 0;
        Set<String> operators = new java.util.TreeSet<>();
        while (graph.hasMore()) {
            graph.nextField();
            switch (graph.fieldNumber()) {
                case GRAPH_NODE -> operators.add(readOpType(graph.readMessage()));
                case GRAPH_INPUT -> inputs.add(readValueInfo(graph.readMessage(), source, "input"));
                case GRAPH_OUTPUT -> outputs.add(readValueInfo(graph.readMessage(), source, "output"));
                case GRAPH_INITIALIZER -> {
                    ProtoReader initializer = graph.readMessage();
                    initializerBytes += initializer.remaining();
                    initializers.add(readTensorName(initializer));
                }
                default -> graph.skip();
            }
        }
        if (outputs.isEmpty()) {
            throw new InvalidModelException(source + " is not a valid ONNX model: its graph has no outputs");
        }
        // Models written for IR versions before 4 list their initializers among the inputs too.
        inputs.removeIf(input -> initializers.contains(input.name()));
        return new OnnxModelInfo(irVersion, Map.copyOf(opsets), producer, List.copyOf(inputs), List.copyOf(outputs),
                initializerBytes, Set.copyOf(operators));
    }

    private static String readOpType(ProtoReader node) {
        String type = "";
        while (node.hasMore()) {
            node.nextField();
            if (node.fieldNumber() == NODE_OP_TYPE) {
                type = node.readString();
            } else {
                node.skip();
            }
        }
        return type;
    }

    private static String readTensorName(ProtoReader tensor) {
        String name = "";
        while (tensor.hasMore()) {
            tensor.nextField();
            if (tensor.fieldNumber() == TENSOR_NAME) {
                name = tensor.readString();
            } else {
                tensor.skip();
            }
        }
        return name;
    }

    private static TensorSpec readValueInfo(ProtoReader value, String source, String role) {
        String name = null;
        int elemType = 0;
        List<Long> dims = new ArrayList<>();
        while (value.hasMore()) {
            value.nextField();
            switch (value.fieldNumber()) {
                case VALUE_NAME -> name = value.readString();
                case VALUE_TYPE -> {
                    ProtoReader type = value.readMessage();
                    while (type.hasMore()) {
                        type.nextField();
                        if (type.fieldNumber() == TYPE_TENSOR) {
                            elemType = readTensorType(type.readMessage(), dims);
                        } else {
                            type.skip();
                        }
                    }
                }
                default -> value.skip();
            }
        }
        if (name == null || name.isEmpty()) {
            throw new InvalidModelException(source + " is not a valid ONNX model: a graph " + role + " has no name");
        }
        if (elemType == 0) {
            throw new InvalidModelException(source + ": " + role + " '" + name
                    + "' is not a tensor; only tensor inputs and outputs are supported");
        }
        DType dtype;
        try {
            dtype = DType.fromOnnxCode(elemType);
        } catch (TensorException e) {
            throw new InvalidModelException(source + ": " + role + " '" + name + "': " + e.getMessage());
        }
        return new TensorSpec(name, dtype, dims.stream().mapToLong(Long::longValue).toArray());
    }

    private static int readTensorType(ProtoReader tensorType, List<Long> dims) {
        int elemType = 0;
        while (tensorType.hasMore()) {
            tensorType.nextField();
            switch (tensorType.fieldNumber()) {
                case TENSOR_TYPE_ELEM_TYPE -> {
                    tensorType.expect(ProtoReader.VARINT);
                    elemType = (int) tensorType.readVarint();
                }
                case TENSOR_TYPE_SHAPE -> {
                    ProtoReader shape = tensorType.readMessage();
                    while (shape.hasMore()) {
                        shape.nextField();
                        if (shape.fieldNumber() == SHAPE_DIM) {
                            dims.add(readDimension(shape.readMessage()));
                        } else {
                            shape.skip();
                        }
                    }
                }
                default -> tensorType.skip();
            }
        }
        return elemType;
    }

    private static long readDimension(ProtoReader dim) {
        long size = -1;
        while (dim.hasMore()) {
            dim.nextField();
            if (dim.fieldNumber() == DIM_VALUE && dim.wireType() == ProtoReader.VARINT) {
                size = dim.readVarint();
            } else {
                dim.skip();
            }
        }
        return size;
    }
}
