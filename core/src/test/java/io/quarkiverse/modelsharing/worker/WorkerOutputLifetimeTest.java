package io.quarkiverse.modelsharing.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.dlpack.DLPack;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelBuilder;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * A worker's output lives as long as a reference to it does: retained, exported through DLPack or sent on as the next
 * model's input, it keeps its values while other requests run, and its block is reused once the last reference goes.
 */
class WorkerOutputLifetimeTest {

    static final float[] ROW = { 1, 2, 3, 4 };
    static final float[] OTHER = { -5, 7, 0, 2 };

    ShmTestRoots.Root shm;
    ModelRegistry registry;
    SharedMemoryPool workerPool;
    SharedMemoryPool clientPool;
    WorkerServer server;
    WorkerClient client;

    @BeforeEach
    void start() throws Exception {
        shm = ShmTestRoots.create();
        Path socket = shm.root.resolve("worker.sock");
        registry = ModelRegistry.builder().build();
        registry.register("affine", OnnxModelLoader.of("affine", ModelSource.bytes("affine", TinyModels.affine())));
        registry.register("double", OnnxModelLoader.of("double", ModelSource.bytes("double", doubling())));
        workerPool = SharedMemoryPool.open(shm.settings(1 << 20, 16 << 20));
        clientPool = SharedMemoryPool.open(shm.settings(1 << 20, 16 << 20));
        server = WorkerServer.start(new WorkerSettings(socket, Set.of(), 2, 16, Duration.ofSeconds(30), "lifetime"),
                registry, workerPool);
        client = WorkerClient.connect(socket, clientPool, "test");
    }

    @AfterEach
    void stop() throws Exception {
        client.close();
        server.close();
        registry.close();
        clientPool.close();
        workerPool.close();
        shm.close();
    }

    @Test
    void aRetainedOutputKeepsItsValuesUntilReleasedAndThenItsBlockIsReused() throws Exception {
        float[] first = TinyModels.expectedAffine(ROW, TinyModels.BIAS);
        Tensor kept;
        try (Tensor x = Tensor.of(ROW, 1, 4); InferenceResult result = client.infer("affine", Map.of("x", x), TIMEOUT)) {
            kept = result.get("y").retain();
        }
        long keptAt = kept.segment().address();
        for (int i = 0; i < 20; i++) {
            try (Tensor x = Tensor.of(OTHER, 1, 4);
                    InferenceResult result = client.infer("affine", Map.of("x", x), TIMEOUT)) {
                assertNotEquals(keptAt, result.get("y").segment().address(), "the retained block is not reused");
                assertArrayEquals(TinyModels.expectedAffine(OTHER, TinyModels.BIAS), result.get("y").toFloatArray());
            }
            assertArrayEquals(first, kept.toFloatArray(), "run " + i + " left the retained output alone");
        }
        awaitValue(server::outputBytes, 128, "only the retained output (64-byte header and data) is leased");
        kept.close();
        awaitValue(server::outputBytes, 0, "its last reference closed: the worker got the release");
        try (Tensor x = Tensor.of(OTHER, 1, 4); InferenceResult result = client.infer("affine", Map.of("x", x), TIMEOUT)) {
            assertEquals(keptAt, result.get("y").segment().address(), "after the release the worker reuses the block");
        }
    }

    @Test
    void anExportedOutputLivesUntilItsDLPackConsumerIsDone() throws Exception {
        MemorySegment exported;
        try (Tensor x = Tensor.of(ROW, 1, 4); InferenceResult result = client.infer("affine", Map.of("x", x), TIMEOUT)) {
            exported = DLPack.export(result.get("y"));
        }
        for (int i = 0; i < 5; i++) {
            try (Tensor x = Tensor.of(OTHER, 1, 4); InferenceResult result = client.infer("affine", Map.of("x", x), TIMEOUT)) {
                assertArrayEquals(TinyModels.expectedAffine(OTHER, TinyModels.BIAS), result.get("y").toFloatArray());
            }
        }
        awaitValue(server::outputBytes, 128, "the exported output stays leased");
        try (Tensor consumer = DLPack.importTensor(exported)) { // closing it calls the producer's deleter
            assertArrayEquals(TinyModels.expectedAffine(ROW, TinyModels.BIAS), consumer.toFloatArray());
        }
        awaitValue(server::outputBytes, 0, "the deleter gave the output back");
    }

    @Test
    void oneModelsOutputIsTheNextModelsInputWithoutACopy() {
        try (Tensor x = clientPool.allocate(DType.F32, 2, 4)) {
            x.copyFrom(new float[] { 1, 2, 3, 4, -5, 7, 0, 2 });
            long inputs = clientPool.usedBytes();
            try (InferenceResult a = client.infer("affine", Map.of("x", x), TIMEOUT);
                    InferenceResult b = client.infer("double", Map.of("x", a.get("y")), TIMEOUT)) {
                assertEquals(StorageKind.SHARED, a.get("y").storageKind());
                float[] once = a.get("y").toFloatArray();
                float[] twice = b.get("y").toFloatArray();
                for (int i = 0; i < once.length; i++) {
                    assertEquals(2 * once[i], twice[i], "element " + i);
                }
                assertArrayEquals(TinyModels.expectedAffine(OTHER, TinyModels.BIAS), Arrays.copyOfRange(once, 2, 4));
                assertEquals(inputs, clientPool.usedBytes(), "the output went back as the worker's own descriptor:"
                        + " nothing was copied into the client's pool");
            }
        }
    }

    static final Duration TIMEOUT = Duration.ofSeconds(10);

    /** y = 2x for F32[?, 2]: takes the affine model's output. */
    static byte[] doubling() {
        return OnnxModelBuilder.create("double")
                .input("x", DType.F32, -1, 2)
                .initializer("w", new float[] { 2, 0, 0, 2 }, 2, 2)
                .node("MatMul", List.of("x", "w"), List.of("y"))
                .output("y", DType.F32, -1, 2)
                .build();
    }

    /** Polls (the release travels to the worker asynchronously) until the value is reached, or 5 s have passed. */
    static void awaitValue(LongSupplier value, long expected, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (value.getAsLong() != expected && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertEquals(expected, value.getAsLong(), what);
    }
}
