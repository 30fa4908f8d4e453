package io.quarkiverse.modelsharing.shm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.OrtTensors;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorException;

/** ONNX Runtime reads inputs from and writes outputs into shared memory, in place. */
class SharedTensorInferenceTest {

    final ShmTestRoot shm = new ShmTestRoot();
    static final float[] ROW = { 1, 2, 3, 4 };

    @AfterEach
    void removeRoot() {
        shm.close();
    }

    static OnnxModel affine() throws Exception {
        return OnnxModelLoader.of("affine", ModelSource.bytes("affine", TinyModels.affine())).load();
    }

    @Test
    void onnxRuntimeReadsSharedInputsInPlace() throws Exception {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(1 << 20, 4 << 20));
                OnnxModel model = affine();
                Tensor x = pool.allocate(DType.F32, 1, 4)) {
            x.copyFrom(ROW);
            try (OnnxTensor view = OrtTensors.view(OrtEnvironment.getEnvironment(), x)) {
                OrtSession session = model.session();
                float[] before;
                try (OrtSession.Result result = session.run(Map.of("x", view))) {
                    before = ((float[][]) result.get(0).getValue())[0];
                }
                x.setFloat(3, -40); // change the shared memory, not the ONNX Runtime value
                try (OrtSession.Result result = session.run(Map.of("x", view))) {
                    assertArrayEquals(TinyModels.expectedAffine(ROW, TinyModels.BIAS), before);
                    assertArrayEquals(TinyModels.expectedAffine(new float[] { 1, 2, 3, -40 }, TinyModels.BIAS),
                            ((float[][]) result.get(0).getValue())[0]);
                }
            }
        }
    }

    @Test
    void onnxRuntimeWritesOutputsIntoTheTensorsGiven() throws Exception {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(1 << 20, 4 << 20));
                OnnxModel model = affine();
                Tensor x = pool.allocate(DType.F32, 1, 4);
                Tensor y = pool.allocate(DType.F32, 1, 2)) {
            x.copyFrom(ROW);
            y.copyFrom(new float[] { Float.NaN, Float.NaN });
            model.runInto(Map.of("x", x), Map.of("y", y));
            assertArrayEquals(TinyModels.expectedAffine(ROW, TinyModels.BIAS), y.toFloatArray(),
                    "ONNX Runtime wrote into the shared tensor itself");
            try (Tensor wrongType = pool.allocate(DType.I32, 1, 2); Tensor wrongRows = pool.allocate(DType.F32, 2, 2)) {
                assertEquals("Model 'affine' writes output y: F32[?, 2] in place; got Tensor[I32 [1, 2] shared]",
                        assertThrows(TensorException.class, () -> model.runInto(Map.of("x", x), Map.of("y", wrongType)))
                                .getMessage());
                // A free dimension that does not match this run's is ONNX Runtime's to find; it says so clearly.
                assertTrue(
                        assertThrows(ModelSharingException.class, () -> model.runInto(Map.of("x", x), Map.of("y", wrongRows)))
                                .getMessage().contains("has shape {2,2} but the computed output shape for this run is {1,2}"));
            }
        }
    }

    @Test
    void outputsLandInTheAllocatorsMemoryAndLaterRunsPinThem() throws Exception {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(1 << 20, 4 << 20));
                OnnxModel model = affine();
                Tensor x = pool.allocate(DType.F32, 2, 4)) {
            x.copyFrom(new float[] { 1, 2, 3, 4, 5, 6, 7, 8 });
            long inputOnly = pool.usedBytes();
            float[] expected = concat(TinyModels.expectedAffine(ROW, TinyModels.BIAS),
                    TinyModels.expectedAffine(new float[] { 5, 6, 7, 8 }, TinyModels.BIAS));
            for (int run = 0; run < 3; run++) { // the first run learns the output shapes, later ones write in place
                try (InferenceResult result = model.run(Map.of("x", x), pool)) {
                    Tensor y = result.get("y");
                    assertEquals(StorageKind.SHARED, y.storageKind());
                    assertArrayEquals(expected, y.toFloatArray());
                    try (Tensor mapped = pool.open(pool.describe(y))) {
                        assertArrayEquals(expected, mapped.toFloatArray(), "another process could read it by descriptor");
                    }
                }
            }
            assertEquals(inputOnly, pool.usedBytes(), "every output was given back");
        }
    }

    @Test
    void registryModelsServeSharedOutputsToo() throws Exception {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(1 << 20, 4 << 20));
                var registry = io.quarkiverse.modelsharing.registry.ModelRegistry.builder().build()) {
            registry.register("affine", OnnxModelLoader.of("affine", ModelSource.bytes("affine", TinyModels.affine())));
            var model = new io.quarkiverse.modelsharing.inference.RegistryInferenceModel(registry, "affine");
            try (Tensor x = pool.allocate(DType.F32, 1, 4)) {
                x.copyFrom(ROW);
                try (InferenceResult result = model.run(Map.of("x", x), pool)) {
                    assertSame(StorageKind.SHARED, result.get("y").storageKind());
                }
            }
        }
    }

    private static float[] concat(float[] a, float[] b) {
        float[] both = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, both, a.length, b.length);
        return both;
    }
}
