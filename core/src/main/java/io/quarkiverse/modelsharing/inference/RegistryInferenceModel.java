package io.quarkiverse.modelsharing.inference;

import java.util.List;
import java.util.Map;

import io.quarkiverse.modelsharing.registry.ModelHandle;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

/**
 * An {@link InferenceModel} served by a {@link ModelRegistry} in this process: every call holds a handle only
 * while it runs, so that an idle model can be evicted between calls and is loaded again on the next one.
 */
public final class RegistryInferenceModel implements InferenceModel {

    private final ModelRegistry registry;
    private final String name;

    public RegistryInferenceModel(ModelRegistry registry, String name) {
        this.registry = registry;
        this.name = name;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public List<TensorSpec> inputs() {
        try (ModelHandle<InferenceModel> handle = registry.acquire(name, InferenceModel.class)) {
            return handle.get().inputs();
        }
    }

    @Override
    public List<TensorSpec> outputs() {
        try (ModelHandle<InferenceModel> handle = registry.acquire(name, InferenceModel.class)) {
            return handle.get().outputs();
        }
    }

    @Override
    public boolean batchDependent() {
        try (ModelHandle<InferenceModel> handle = registry.acquire(name, InferenceModel.class)) {
            return handle.get().batchDependent();
        }
    }

    @Override
    public InferenceResult run(Map<String, Tensor> inputs) {
        try (ModelHandle<InferenceModel> handle = registry.acquire(name, InferenceModel.class)) {
            return handle.get().run(inputs);
        }
    }

    @Override
    public InferenceResult run(Map<String, Tensor> inputs, TensorAllocator outputs) {
        try (ModelHandle<InferenceModel> handle = registry.acquire(name, InferenceModel.class)) {
            return handle.get().run(inputs, outputs);
        }
    }

    @Override
    public String toString() {
        return "RegistryInferenceModel[" + name + "]";
    }
}
