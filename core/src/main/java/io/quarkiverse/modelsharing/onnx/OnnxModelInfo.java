package io.quarkiverse.modelsharing.onnx;

import java.util.List;
import java.util.Map;

import io.quarkiverse.modelsharing.tensor.TensorSpec;

/**
 * What an ONNX file declares about itself, read without loading it into ONNX Runtime.
 *
 * @param irVersion the ONNX IR version
 * @param opsets operator set versions by domain ({@code ""} is the default ONNX domain)
 * @param producer the tool that wrote the model, if it says
 * @param inputs the graph inputs that are not initializers, in order
 * @param outputs the graph outputs, in order
 * @param initializerBytes bytes of weights stored inside the file
 * @param operators the operator types of the main graph's nodes
 */
public record OnnxModelInfo(long irVersion, Map<String, Long> opsets, String producer, List<TensorSpec> inputs,
        List<TensorSpec> outputs, long initializerBytes, java.util.Set<String> operators) {

    /**
     * Operators whose result for one row depends on the other rows of the batch: dynamic quantization computes one
     * scale and zero point over the whole tensor, so a text's embedding changes with what it is batched with
     * (all-MiniLM-L6-v2's quantized export: cosine 0.98 to its unbatched embedding).
     */
    public static final java.util.Set<String> BATCH_DEPENDENT_OPERATORS = java.util.Set.of("DynamicQuantizeLinear",
            "DynamicQuantizeMatMul", "DynamicQuantizeLSTM");

    /** Whether a row's answer depends on the rest of its batch (see {@link #BATCH_DEPENDENT_OPERATORS}). */
    public boolean batchDependent() {
        return operators.stream().anyMatch(BATCH_DEPENDENT_OPERATORS::contains);
    }
}
