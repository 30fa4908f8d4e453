package io.quarkiverse.modelsharing.inference;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

/**
 * A model that turns named input tensors into named output tensors, wherever it runs.
 *
 * <pre>{@code
 * try (Tensor ids = Tensor.of(new long[] { 101, 2023, 102 }, 1, 3);
 *         InferenceResult result = model.run(Map.of("input_ids", ids))) {
 *     float[] hidden = result.get("last_hidden_state").toFloatArray();
 * }
 * }</pre>
 *
 * The caller keeps ownership of the inputs; the result owns the outputs until it is closed.
 */
public interface InferenceModel {

    /** The model's registered name. */
    String name();

    /** The inputs the model expects, in order. */
    List<TensorSpec> inputs();

    /** The outputs the model produces, in order. */
    List<TensorSpec> outputs();

    /**
     * Whether one row's answer depends on the other rows of its batch, as with dynamically quantized models, whose
     * scales are computed over the whole input. Such a model is never batched across requests: that would make one
     * caller's answer depend on another's request.
     */
    default boolean batchDependent() {
        return false;
    }

    /**
     * Runs the model once.
     *
     * @throws io.quarkiverse.modelsharing.tensor.TensorException if an input is missing, unknown, or of the wrong
     *         dtype or shape; the message names the model's expected input
     */
    InferenceResult run(Map<String, Tensor> inputs);

    /**
     * Runs the model once with its outputs in {@code outputs}' memory, e.g. a shared-memory pool, so that they can
     * be handed to another process as descriptors. Models that can write outputs in place do; others copy.
     */
    default InferenceResult run(Map<String, Tensor> inputs, TensorAllocator outputs) {
        try (InferenceResult result = run(inputs)) {
            Map<String, Tensor> copies = new LinkedHashMap<>();
            try {
                result.asMap().forEach((name, tensor) -> copies.put(name, outputs.copyOf(tensor)));
            } catch (RuntimeException e) {
                copies.values().forEach(Tensor::close);
                throw e;
            }
            return new InferenceResult(name(), copies);
        }
    }
}
