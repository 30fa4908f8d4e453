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
 */
public record OnnxModelInfo(long irVersion, Map<String, Long> opsets, String producer, List<TensorSpec> inputs,
        List<TensorSpec> outputs, long initializerBytes) {
}
