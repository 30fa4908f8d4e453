package io.quarkiverse.modelsharing.docs;

// tag::imports[]
import java.util.Map;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.registry.ModelHandle;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.tensor.Tensor;
// end::imports[]

/** The three ways to reach a model, and a handle closed by try-with-resources. */
@ApplicationScoped
public class InjectionPoints {

    // tag::injection[]
    @Inject
    @Model("embedder")
    InferenceModel embedder; // <1>

    @Inject
    @Model("embedder")
    ModelHandle<OnnxModel> session; // <2>

    @Inject
    ModelRegistry registry; // <3>
    // end::injection[]

    /** The shape of the model's token vectors, through a handle held only for the call. */
    public long[] hiddenShape(Map<String, Tensor> inputs) {
        // tag::handle[]
        try (ModelHandle<OnnxModel> handle = registry.acquire("embedder", OnnxModel.class);
                InferenceResult result = handle.get().run(inputs)) {
            return result.get("last_hidden_state").shape();
        }
        // end::handle[]
    }

    InferenceModel embedder() {
        return embedder;
    }

    ModelHandle<OnnxModel> session() {
        return session;
    }

    ModelRegistry registry() {
        return registry;
    }
}
