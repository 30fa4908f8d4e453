package io.quarkiverse.modelsharing.onnx;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

/**
 * A model loaded into an ONNX Runtime session in this process. Safe for concurrent {@link #run(Map)} calls, as
 * ONNX Runtime sessions are.
 */
public final class OnnxModel implements InferenceModel, AutoCloseable {

    private static final System.Logger LOG = System.getLogger(OnnxModel.class.getName());

    private final String name;
    private final OrtEnvironment environment;
    private final OrtSession session;
    private final List<TensorSpec> inputs;
    private final List<TensorSpec> outputs;
    private final Map<String, TensorSpec> inputsByName = new HashMap<>();
    /** Output shapes seen for each combination of input shapes, so that later runs can write outputs in place. */
    private final Map<String, Map<String, long[]>> outputShapes = new ConcurrentHashMap<>();
    private static final int MAX_REMEMBERED_SHAPES = 1024;
    /**
     * Whether runs write outputs in place into tensors shaped as {@link #outputShapes} remembers. Off for good once a
     * pinned run fails and the same inputs run unpinned: then an output's shape depends on input values (Reshape,
     * TopK, NonZero), and no cache keyed on input shapes can hold it.
     * <p>
     * Why find out by running rather than from the model's declared output shapes: a declared shape does not prove
     * what the model produces. A symbolic dimension that shares its name with an input's is the exporter's claim,
     * which ONNX Runtime does not check (it only warns when an output differs from its declared shape), and dimensions
     * that no input names may still follow from input shapes alone. What ONNX Runtime does check is a pinned output:
     * a run whose computed shape differs from the tensor given for it fails before writing into it. So a mismatch
     * always shows, costs one extra run once per model, and the worst a false alarm (a pinned run failing for
     * another reason) costs is the copy that pinning would have saved.
     */
    private volatile boolean pinOutputs = true;

    OnnxModel(String name, OrtEnvironment environment, OrtSession session, boolean batchDependent) throws OrtException {
        this.batchDependent = batchDependent;
        this.name = name;
        this.environment = environment;
        this.session = session;
        this.inputs = specs(session.getInputInfo());
        this.outputs = specs(session.getOutputInfo());
        inputs.forEach(spec -> inputsByName.put(spec.name(), spec));
    }

    private final boolean batchDependent;

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean batchDependent() {
        return batchDependent;
    }

    @Override
    public List<TensorSpec> inputs() {
        return inputs;
    }

    @Override
    public List<TensorSpec> outputs() {
        return outputs;
    }

    /** The ONNX Runtime session, for what this API does not cover. Do not close it: the registry does. */
    public OrtSession session() {
        return session;
    }

    @Override
    public InferenceResult run(Map<String, Tensor> feeds) {
        return run(feeds, TensorAllocator.offHeap());
    }

    /**
     * Runs the model with its outputs in {@code allocator}'s memory. Once the model has run on inputs of the same
     * shapes, the output shapes are known and ONNX Runtime writes the outputs straight into tensors allocated there
     * (pinned outputs): no copy. The first run with new shapes copies its outputs once. A model whose output shapes
     * depend on input values (Reshape, TopK, NonZero) copies its outputs on every run from its first mismatch on.
     */
    @Override
    public InferenceResult run(Map<String, Tensor> feeds, TensorAllocator allocator) {
        checkInputs(feeds);
        Map<String, long[]> shapes = pinOutputs ? outputShapes.get(shapeKey(feeds)) : null;
        if (shapes == null) {
            InferenceResult result = execute(feeds, Map.of(), allocator);
            if (pinOutputs && outputShapes.size() < MAX_REMEMBERED_SHAPES) {
                Map<String, long[]> learned = new LinkedHashMap<>();
                result.asMap().forEach((name, tensor) -> learned.put(name, tensor.shape()));
                outputShapes.putIfAbsent(shapeKey(feeds), learned);
            }
            return result;
        }
        Map<String, Tensor> outputs = new LinkedHashMap<>();
        try {
            for (TensorSpec spec : this.outputs) {
                outputs.put(spec.name(), allocator.allocateUninitialized(spec.dtype(), shapes.get(spec.name())));
            }
            execute(feeds, outputs, null).close();
            return new InferenceResult(name, outputs);
        } catch (RuntimeException e) {
            outputs.values().forEach(Tensor::close);
            if (!(e.getCause() instanceof OrtException)) {
                throw e;
            }
            return runUnpinnedAfter(e, feeds, allocator);
        }
    }

    /**
     * Runs again without pinned outputs after a pinned run failed in ONNX Runtime. If this run succeeds, pinning was
     * what failed, so it stops for this model; if it fails too, its failure is the model's own and is thrown.
     */
    private InferenceResult runUnpinnedAfter(RuntimeException pinnedFailure, Map<String, Tensor> feeds,
            TensorAllocator allocator) {
        InferenceResult result = execute(feeds, Map.of(), allocator);
        pinOutputs = false;
        outputShapes.clear();
        LOG.log(Level.INFO, "Model ''{0}'' produced output shapes that its input shapes do not determine, so its outputs"
                + " are copied from ONNX Runtime from now on instead of written in place; ONNX Runtime reported: {1}",
                name, pinnedFailure.getCause().getMessage());
        return result;
    }

    /**
     * Runs the model with ONNX Runtime writing each output into the tensor given for it, in place. The output tensors
     * must be off-heap or shared, and of the exact dtype and shape the model produces for these inputs.
     */
    public void runInto(Map<String, Tensor> feeds, Map<String, Tensor> outputs) {
        checkInputs(feeds);
        for (TensorSpec spec : this.outputs) {
            Tensor out = outputs.get(spec.name());
            if (out == null || !spec.accepts(out.dtype(), out.shape())) {
                throw new TensorException("Model '" + name + "' writes output " + spec + " in place; got "
                        + (out == null ? "no tensor for it" : out));
            }
        }
        execute(feeds, outputs, null).close();
    }

    private InferenceResult execute(Map<String, Tensor> feeds, Map<String, Tensor> pinned, TensorAllocator copyInto) {
        Map<String, OnnxTensor> ortInputs = new LinkedHashMap<>();
        Map<String, OnnxTensor> ortOutputs = new LinkedHashMap<>();
        List<Tensor> staged = new ArrayList<>();
        try {
            for (Map.Entry<String, Tensor> feed : feeds.entrySet()) {
                Tensor tensor = feed.getValue();
                if (tensor.storageKind() == StorageKind.HEAP) {
                    // ONNX Runtime needs native memory: one copy, which off-heap tensors never pay.
                    Tensor offHeap = Tensor.allocateUninitialized(tensor.dtype(), tensor.shape());
                    staged.add(offHeap);
                    offHeap.copyFrom(tensor);
                    tensor = offHeap;
                }
                ortInputs.put(feed.getKey(), OrtTensors.view(environment, tensor));
            }
            for (Map.Entry<String, Tensor> out : pinned.entrySet()) {
                ortOutputs.put(out.getKey(), OrtTensors.view(environment, out.getValue()));
            }
            try (OrtSession.Result result = pinned.isEmpty() ? session.run(ortInputs) : session.run(ortInputs, ortOutputs)) {
                if (copyInto == null) {
                    return new InferenceResult(name, Map.of());
                }
                Map<String, Tensor> produced = new LinkedHashMap<>();
                try {
                    for (Map.Entry<String, OnnxValue> output : result) {
                        produced.put(output.getKey(), OrtTensors.copyOut(name, output.getKey(), output.getValue(), copyInto));
                    }
                } catch (RuntimeException e) {
                    produced.values().forEach(Tensor::close);
                    throw e;
                }
                return new InferenceResult(name, produced);
            }
        } catch (OrtException e) {
            throw new ModelSharingException("Model '" + name + "' failed to run: " + e.getMessage(), e);
        } finally {
            ortInputs.values().forEach(OnnxTensor::close);
            ortOutputs.values().forEach(OnnxTensor::close);
            staged.forEach(Tensor::close);
        }
    }

    private static String shapeKey(Map<String, Tensor> feeds) {
        StringBuilder key = new StringBuilder();
        new TreeMap<>(feeds).forEach((input, tensor) -> key.append(input).append(Arrays.toString(tensor.shape())).append(';'));
        return key.toString();
    }

    /** Runs the model once on zeros (free dimensions set to 1), so that the first real request is not the slow one. */
    public void warmUp() {
        Map<String, Tensor> zeros = new LinkedHashMap<>();
        try {
            for (TensorSpec spec : inputs) {
                long[] shape = spec.shape();
                for (int axis = 0; axis < shape.length; axis++) {
                    shape[axis] = Math.max(shape[axis], 1);
                }
                zeros.put(spec.name(), Tensor.allocate(spec.dtype(), shape));
            }
            run(zeros).close();
        } finally {
            zeros.values().forEach(Tensor::close);
        }
    }

    @Override
    public void close() throws OrtException {
        session.close();
    }

    @Override
    public String toString() {
        return "OnnxModel[" + name + " inputs=" + inputs + " outputs=" + outputs + "]";
    }

    private void checkInputs(Map<String, Tensor> feeds) {
        for (Map.Entry<String, Tensor> feed : feeds.entrySet()) {
            TensorSpec spec = inputsByName.get(feed.getKey());
            if (spec == null) {
                throw new TensorException("Model '" + name + "' has no input '" + feed.getKey() + "'; its inputs are "
                        + inputs);
            }
            Tensor tensor = feed.getValue();
            if (!spec.accepts(tensor.dtype(), tensor.shape())) {
                throw new TensorException("Model '" + name + "' expects input " + spec + ", got " + tensor);
            }
        }
        for (TensorSpec spec : inputs) {
            if (!feeds.containsKey(spec.name())) {
                throw new TensorException("Model '" + name + "' needs input " + spec + ", which is missing; its inputs are "
                        + inputs);
            }
        }
    }

    private static List<TensorSpec> specs(Map<String, NodeInfo> infos) {
        List<TensorSpec> specs = new ArrayList<>();
        for (NodeInfo node : infos.values()) {
            if (!(node.getInfo() instanceof TensorInfo info)) {
                throw new TensorException("'" + node.getName() + "' is a " + node.getInfo()
                        + "; only tensor inputs and outputs are supported");
            }
            specs.add(new TensorSpec(node.getName(), OrtTensors.dtype(info), info.getShape()));
        }
        return List.copyOf(specs);
    }
}
