package io.quarkiverse.modelsharing.worker;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

/** An {@link InferenceModel} served by a worker: the same handle as in process, the model in another process. */
public final class WorkerInferenceModel implements InferenceModel {

    private final WorkerClient client;
    private final String name;
    private final Duration timeout;
    private volatile Frame.Loaded loaded;

    public WorkerInferenceModel(WorkerClient client, String name, Duration timeout) {
        this.client = client;
        this.name = name;
        this.timeout = timeout;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<TensorSpec> inputs() {
        return loaded().inputs();
    }

    @Override
    public List<TensorSpec> outputs() {
        return loaded().outputs();
    }

    @Override
    public boolean batchDependent() {
        return loaded().batchDependent();
    }

    @Override
    public InferenceResult run(Map<String, Tensor> inputs) {
        return client.infer(name, inputs, timeout);
    }

    /** The outputs stay in the worker's shared memory; they are views whatever {@code outputs} is. */
    @Override
    public InferenceResult run(Map<String, Tensor> inputs, TensorAllocator outputs) {
        return run(inputs);
    }

    private Frame.Loaded loaded() {
        Frame.Loaded known = loaded;
        if (known == null) {
            known = client.load(name, timeout);
            loaded = known;
        }
        return known;
    }
}
