package io.quarkiverse.modelsharing.runtime.worker;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorSpec;
import io.quarkiverse.modelsharing.worker.WorkerInferenceModel;

/** {@code @Model InferenceModel} for a model placed in workers: each call goes to the next worker's connection. */
public final class WorkerPlacedModel implements InferenceModel {

    private final String name;
    private final WorkerPool pool;
    private final Duration timeout;
    /** The model's inputs and outputs, asked of a worker once: they do not change while the model is configured. */
    private volatile List<List<TensorSpec>> specs;

    public WorkerPlacedModel(String name, WorkerPool pool, Duration timeout) {
        this.name = name;
        this.pool = pool;
        this.timeout = timeout;
    }

    /** The model on the next worker, round robin. */
    private volatile Boolean batchDependent;

    private WorkerInferenceModel model() {
        return new WorkerInferenceModel(pool.connection().client(), pool.remoteName(name), timeout);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<TensorSpec> inputs() {
        return specs().get(0);
    }

    @Override
    public List<TensorSpec> outputs() {
        return specs().get(1);
    }

    @Override
    public boolean batchDependent() {
        Boolean known = batchDependent;
        if (known == null) {
            known = model().batchDependent();
            batchDependent = known;
        }
        return known;
    }

    private List<List<TensorSpec>> specs() {
        List<List<TensorSpec>> known = specs;
        if (known == null) {
            WorkerInferenceModel model = model();
            known = List.of(model.inputs(), model.outputs());
            specs = known;
        }
        return known;
    }

    @Override
    public InferenceResult run(Map<String, Tensor> inputs) {
        long start = System.nanoTime();
        try {
            return model().run(inputs);
        } finally {
            pool.recordRequest(System.nanoTime() - start);
        }
    }

    @Override
    public InferenceResult run(Map<String, Tensor> inputs, TensorAllocator outputs) {
        return run(inputs);
    }
}
