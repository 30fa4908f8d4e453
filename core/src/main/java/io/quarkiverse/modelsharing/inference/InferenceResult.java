package io.quarkiverse.modelsharing.inference;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorException;

/**
 * The named outputs of one inference. Closing the result closes its tensors; {@link Tensor#retain()} one to keep
 * it longer.
 */
public final class InferenceResult implements AutoCloseable {

    private final String model;
    private final Map<String, Tensor> outputs;
    private final Runnable onClose;

    public InferenceResult(String model, Map<String, Tensor> outputs) {
        this(model, outputs, () -> {
        });
    }

    /** A result that also runs {@code onClose} when closed, e.g. to give leased outputs back to a worker. */
    public InferenceResult(String model, Map<String, Tensor> outputs, Runnable onClose) {
        this.model = model;
        this.outputs = Collections.unmodifiableMap(new LinkedHashMap<>(outputs));
        this.onClose = onClose;
    }

    /** The output called {@code name}. */
    public Tensor get(String name) {
        Tensor tensor = outputs.get(name);
        if (tensor == null) {
            throw new TensorException("Model '" + model + "' has no output '" + name + "'; its outputs are "
                    + outputs.keySet());
        }
        return tensor;
    }

    /** Output names in the model's order. */
    public Set<String> names() {
        return outputs.keySet();
    }

    /** All outputs, in the model's order. */
    public Map<String, Tensor> asMap() {
        return outputs;
    }

    @Override
    public void close() {
        try {
            outputs.values().forEach(Tensor::close);
        } finally {
            onClose.run();
        }
    }
}
