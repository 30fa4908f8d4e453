package io.quarkiverse.modelsharing.docs;

// tag::quick-start[]
import java.util.Map;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

@ApplicationScoped
public class Embeddings {

    @Inject
    @Model("embedder")
    InferenceModel embedder;

    /** The model's vector for the first token ([CLS]) of one tokenized text: 384 floats for MiniLM. */
    public float[] firstToken(long[] ids, long[] mask) {
        long[] shape = { 1, ids.length };
        try (Tensor inputIds = Tensor.of(ids, shape);
                Tensor attention = Tensor.of(mask, shape);
                Tensor types = Tensor.allocate(DType.I64, shape);
                InferenceResult result = embedder.run(Map.of("input_ids", inputIds,
                        "attention_mask", attention, "token_type_ids", types))) {
            Tensor hidden = result.get("last_hidden_state"); // [batch 1, tokens, 384], closed with the result
            // slice(from, to) takes rows of the first dimension: drop the batch dimension first
            try (Tensor tokens = hidden.reshape(hidden.dim(1), hidden.dim(2));
                    Tensor first = tokens.slice(0, 1)) {
                return first.toFloatArray();
            }
        }
    }
}
// end::quick-start[]
