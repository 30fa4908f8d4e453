package io.quarkiverse.modelsharing.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.OnnxModelBuilder;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * The demo's models that are built in code rather than shipped by a library. The application's models are build-time
 * configuration, so their files must be resources when it is built: they are committed, and this test proves that each
 * is what its code builds. After changing the code, {@code -Ddemo-models.write=true} writes the files again.
 */
class DemoModelsTest {

    static final Path SCALE = Path.of("src", "main", "resources", "scale.onnx");

    /**
     * {@code scale}: y = 2·x for x FP32 of shape [-1]. It costs almost nothing to run, so that a benchmark of large
     * tensors over the Open Inference Protocol measures the protocol rather than the model.
     */
    static byte[] scale() {
        return OnnxModelBuilder.create("scale")
                .input("x", DType.F32, -1)
                .initializer("two", new float[] { 2 })
                .node("Mul", List.of("x", "two"), List.of("y"))
                .output("y", DType.F32, -1)
                .build();
    }

    @Test
    void theCommittedScaleModelIsWhatItsCodeBuilds() throws Exception {
        if (Boolean.getBoolean("demo-models.write")) {
            Files.write(SCALE, scale());
        }
        assertArrayEquals(scale(), Files.readAllBytes(SCALE), SCALE + " is not what DemoModelsTest.scale() builds: run"
                + " this test with -Ddemo-models.write=true to write it again");
    }

    @Test
    void theScaleModelDoublesItsInput() throws Exception {
        try (OnnxModel model = OnnxModelLoader.of("scale", ModelSource.bytes("scale", Files.readAllBytes(SCALE))).load();
                Tensor x = Tensor.of(new float[] { 1, -2.5f, 0, 3e38f / 4 }, 4);
                InferenceResult result = model.run(Map.of("x", x))) {
            assertArrayEquals(new float[] { 2, -5, 0, 3e38f / 2 }, result.get("y").toFloatArray());
            assertEquals(DType.F32, result.get("y").dtype());
        }
    }
}
