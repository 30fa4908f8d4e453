package io.quarkiverse.modelsharing.onnx;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorException;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

class OnnxModelTest {

    private static OnnxModel load(byte[] bytes) throws Exception {
        return OnnxModelLoader.of("affine", ModelSource.bytes("affine", bytes)).load();
    }

    @Test
    void runsOnOffHeapAndHeapInputs() throws Exception {
        float[] row = { 1, 2, 3, 4 };
        float[] expected = TinyModels.expectedAffine(row, TinyModels.BIAS);
        try (OnnxModel model = load(TinyModels.affine())) {
            assertEquals(List.of(new TensorSpec("x", DType.F32, new long[] { -1, 4 })), model.inputs());
            assertEquals(List.of(new TensorSpec("y", DType.F32, new long[] { -1, 2 })), model.outputs());
            try (Tensor x = Tensor.of(row, 1, 4); InferenceResult result = model.run(Map.of("x", x))) {
                assertArrayEquals(expected, result.get("y").toFloatArray());
                assertArrayEquals(new long[] { 1, 2 }, result.get("y").shape());
            }
            try (Tensor heap = Tensor.allocateHeap(DType.F32, 1, 4)) {
                heap.copyFrom(Tensor.of(row, 1, 4));
                try (InferenceResult result = model.run(Map.of("x", heap))) {
                    assertArrayEquals(expected, result.get("y").toFloatArray());
                }
            }
        }
    }

    @Test
    void onnxRuntimeReadsOffHeapInputsInPlace() throws Exception {
        try (OnnxModel model = load(TinyModels.affine()); Tensor x = Tensor.of(new float[] { 1, 2, 3, 4 }, 1, 4)) {
            OrtSession session = model.session();
            try (OnnxTensor view = OrtTensors.view(OrtEnvironment.getEnvironment(), x)) {
                float[] first;
                try (OrtSession.Result result = session.run(Map.of("x", view))) {
                    first = ((float[][]) result.get(0).getValue())[0];
                }
                // Change the memory under the tensor, not the ONNX Runtime value: the next run must see it.
                x.setFloat(0, 101);
                try (OrtSession.Result result = session.run(Map.of("x", view))) {
                    float[] second = ((float[][]) result.get(0).getValue())[0];
                    assertArrayEquals(TinyModels.expectedAffine(new float[] { 1, 2, 3, 4 }, TinyModels.BIAS), first);
                    assertArrayEquals(TinyModels.expectedAffine(new float[] { 101, 2, 3, 4 }, TinyModels.BIAS), second);
                }
            }
        }
    }

    @Test
    void mismatchedInputsNameTheExpectedInput() throws Exception {
        try (OnnxModel model = load(TinyModels.affine())) {
            try (Tensor wrongType = Tensor.of(new long[] { 1, 2, 3, 4 }, 1, 4)) {
                assertEquals("Model 'affine' expects input x: F32[?, 4], got Tensor[I64 [1, 4] off-heap]",
                        assertThrows(TensorException.class, () -> model.run(Map.of("x", wrongType))).getMessage());
            }
            try (Tensor wrongShape = Tensor.of(new float[] { 1, 2, 3 }, 1, 3)) {
                assertEquals("Model 'affine' expects input x: F32[?, 4], got Tensor[F32 [1, 3] off-heap]",
                        assertThrows(TensorException.class, () -> model.run(Map.of("x", wrongShape))).getMessage());
            }
            try (Tensor x = Tensor.allocate(DType.F32, 1, 4)) {
                assertEquals("Model 'affine' has no input 'z'; its inputs are [x: F32[?, 4]]",
                        assertThrows(TensorException.class, () -> model.run(Map.of("x", x, "z", x))).getMessage());
            }
            assertEquals("Model 'affine' needs input x: F32[?, 4], which is missing; its inputs are [x: F32[?, 4]]",
                    assertThrows(TensorException.class, () -> model.run(Map.of())).getMessage());
        }
    }

    @Test
    void multipleInputsOfAnotherDtype() throws Exception {
        try (OnnxModel model = OnnxModelLoader.of("add", ModelSource.bytes("add", TinyModels.addInt64())).load();
                Tensor a = Tensor.of(new long[] { 1, 2, 3 });
                Tensor b = Tensor.of(new long[] { 10, 20, 30 });
                InferenceResult result = model.run(Map.of("a", a, "b", b))) {
            assertArrayEquals(new long[] { 11, 22, 33 }, result.get("z").toLongArray());
            assertEquals("Model 'add' has no output 'q'; its outputs are [z]",
                    assertThrows(TensorException.class, () -> result.get("q")).getMessage());
        }
    }

    @Test
    void outputShapesThatDependOnInputValuesAreRightOnEveryRun() throws Exception {
        float[] values = { 1, 2, 3, 4, 5, 6 };
        try (OnnxModel model = OnnxModelLoader.of("reshape", ModelSource.bytes("reshape", TinyModels.reshape())).load();
                Tensor x = Tensor.of(values, 6)) {
            // The same input shapes every time; only the value of 'shape' changes the output's shape.
            for (long[] shape : List.of(new long[] { 2, 3 }, new long[] { 3, 2 }, new long[] { 6, 1 }, new long[] { 2, 3 },
                    new long[] { 3, 2 })) {
                try (Tensor target = Tensor.of(shape, 2); InferenceResult result = model.run(Map.of("x", x, "shape", target))) {
                    assertArrayEquals(shape, result.get("y").shape());
                    assertArrayEquals(values, result.get("y").toFloatArray());
                }
            }
        }
    }

    @Test
    void outputSizesThatDependOnInputValuesAreRightOnEveryRun() throws Exception {
        try (OnnxModel model = OnnxModelLoader.of("nonzero", ModelSource.bytes("nonzero", TinyModels.nonZero())).load()) {
            float[][] inputs = { { 0, 1, 0, 2 }, { 5, 0, 0, 0 }, { 1, 1, 1, 0 }, { 0, 1, 0, 2 }, { 0, 0, 0, 0 } };
            long[][] expected = { { 1, 3 }, { 0 }, { 0, 1, 2 }, { 1, 3 }, {} };
            for (int run = 0; run < inputs.length; run++) {
                try (Tensor x = Tensor.of(inputs[run], 4); InferenceResult result = model.run(Map.of("x", x))) {
                    assertArrayEquals(new long[] { 1, expected[run].length }, result.get("i").shape(), "run " + run);
                    assertArrayEquals(expected[run], result.get("i").toLongArray(), "run " + run);
                }
            }
        }
    }

    @Test
    void loadsFromAFileWithSessionSettingsAndWarmUp(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("affine.onnx");
        Files.write(file, TinyModels.affine());
        OnnxModelLoader loader = new OnnxModelLoader("affine", ModelSource.file(file),
                new OnnxSessionSettings(1, 1, OnnxSessionSettings.OptimizationLevel.BASIC), 0, true);
        assertEquals("file " + file.toAbsolutePath(), loader.describe());
        assertEquals(2 * Files.size(file) + OnnxModelLoader.SESSION_OVERHEAD_BYTES, loader.estimateBytes());
        try (OnnxModel model = loader.load()) {
            assertEquals("affine", model.name());
        }
    }

    @Test
    void classpathSourceReadsResources() throws Exception {
        ModelSource source = ModelSource.parse("classpath:missing.onnx", getClass().getClassLoader());
        assertEquals("classpath resource missing.onnx", source.describe());
        assertTrue(!source.exists());
        InvalidModelException e = assertThrows(InvalidModelException.class,
                () -> OnnxModelLoader.of("m", source).load());
        assertEquals("Model 'm' cannot be loaded: classpath resource missing.onnx does not exist", e.getMessage());
    }

    @Test
    void corruptModelFailsToLoadWithOnnxRuntimesReason() {
        Exception e = assertThrows(Exception.class, () -> load(new byte[] { 8, 7, 58, 0 }));
        assertTrue(e.getMessage().length() > 0);
    }
}
