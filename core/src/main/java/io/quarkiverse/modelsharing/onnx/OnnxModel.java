package io.quarkiverse.modelsharing.onnx;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

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
import io.quarkiverse.modelsharing.tensor.TensorException;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

/**
 * A model loaded into an ONNX Runtime session in this process. Safe for concurrent {@link #run(Map)} calls, as
 * ONNX Runtime sessions are.
 */
public final class OnnxModel implements InferenceModel, AutoCloseable {

    private final String name;
    private final OrtEnvironment environment;
    private final OrtSession session;
    private final List<TensorSpec> inputs;
    private final List<TensorSpec> outputs;
    private final Map<String, TensorSpec> inputsByName = new HashMap<>();

    OnnxModel(String name, OrtEnvironment environment, OrtSession session) throws OrtException {
        this.name = name;
        this.environment = environment;
        this.session = session;
        this.inputs = specs(session.getInputInfo());
        this.outputs = specs(session.getOutputInfo());
        inputs.forEach(spec -> inputsByName.put(spec.name(), spec));
    }

    @Override
    public String name() {
        return name;
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
        checkInputs(feeds);
        Map<String, OnnxTensor> ortInputs = new LinkedHashMap<>();
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
            try (OrtSession.Result result = session.run(ortInputs)) {
                Map<String, Tensor> produced = new LinkedHashMap<>();
                try {
                    for (Map.Entry<String, OnnxValue> output : result) {
                        produced.put(output.getKey(), OrtTensors.copyOut(name, output.getKey(), output.getValue()));
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
            staged.forEach(Tensor::close);
        }
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
