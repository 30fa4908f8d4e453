package io.quarkiverse.modelsharing.docs;

// tag::allocator[]
import java.util.Arrays;
import java.util.Map;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;

@ApplicationScoped
public class SharedTensors {

    @Inject
    TensorAllocator tensors; // shared memory, unless the configuration says otherwise

    @Inject
    @Model("embedder")
    InferenceModel embedder;

    /** Runs the model on inputs in shared memory and says where its output lives. */
    public StorageKind outputStorage(long[] ids) {
        long[] mask = new long[ids.length];
        Arrays.fill(mask, 1);
        try (Tensor inputIds = tensors.allocate(DType.I64, 1, ids.length);
                Tensor attention = tensors.allocate(DType.I64, 1, ids.length);
                Tensor types = tensors.allocate(DType.I64, 1, ids.length)) {
            inputIds.copyFrom(ids);
            attention.copyFrom(mask);
            try (InferenceResult result = embedder.run(Map.of("input_ids", inputIds,
                    "attention_mask", attention, "token_type_ids", types), tensors)) { // outputs in shared memory too
                return result.get("last_hidden_state").storageKind();
            }
        }
    }
}
// end::allocator[]
