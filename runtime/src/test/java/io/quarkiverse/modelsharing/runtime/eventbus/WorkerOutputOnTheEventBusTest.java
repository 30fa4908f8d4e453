package io.quarkiverse.modelsharing.runtime.eventbus;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.worker.WorkerClient;
import io.quarkiverse.modelsharing.worker.WorkerServer;
import io.quarkiverse.modelsharing.worker.WorkerSettings;
import io.vertx.core.Vertx;

/**
 * A worker's output sent on the event bus: the consumer's reference keeps it after the producer closed its result,
 * while other requests run, and the worker gets it back when the consumer closes it.
 */
class WorkerOutputOnTheEventBusTest {

    static final float[] ROW = { 1, 2, 3, 4 };
    static final float[] OTHER = { -5, 7, 0, 2 };

    @Test
    void aConsumerKeepsAWorkerOutputUntilItClosesIt() throws Exception {
        Path dir = Files.createDirectory(Path.of("/dev/shm", "qms-bus-worker-" + UUID.randomUUID()));
        Vertx vertx = Vertx.vertx();
        ModelRegistry registry = ModelRegistry.builder().build();
        registry.register("affine", OnnxModelLoader.of("affine", ModelSource.bytes("affine", TinyModels.affine())));
        SharedMemorySettings settings = new SharedMemorySettings(dir, 1 << 20, 8 << 20, Duration.ofSeconds(1));
        try (SharedMemoryPool workerPool = SharedMemoryPool.open(settings);
                SharedMemoryPool clientPool = SharedMemoryPool.open(settings);
                WorkerServer server = WorkerServer.start(new WorkerSettings(dir.resolve("w.sock"), Set.of(), 1, 16,
                        Duration.ofSeconds(30), "bus"), registry, workerPool);
                WorkerClient client = WorkerClient.connect(dir.resolve("w.sock"), clientPool, "bus-test")) {
            TensorMessageCodec.configure(clientPool, Duration.ofSeconds(30));
            vertx.eventBus().registerDefaultCodec(Tensor.class, new TensorMessageCodec());
            CompletableFuture<Tensor> consumed = new CompletableFuture<>();
            vertx.eventBus().<Tensor> consumer("outputs", message -> consumed.complete(message.body()));
            long sentAt;
            try (Tensor x = Tensor.of(ROW, 1, 4);
                    InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(10))) {
                sentAt = result.get("y").segment().address();
                vertx.eventBus().send("outputs", result.get("y"));
            }
            Tensor received = consumed.get(10, TimeUnit.SECONDS);
            for (int i = 0; i < 10; i++) {
                try (Tensor x = Tensor.of(OTHER, 1, 4);
                        InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(10))) {
                    assertNotEquals(sentAt, result.get("y").segment().address(), "the consumer's block is not reused");
                }
                assertArrayEquals(TinyModels.expectedAffine(ROW, TinyModels.BIAS), received.toFloatArray());
            }
            received.close();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (server.outputBytes() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertEquals(0, server.outputBytes(), "the consumer closed it: the worker got the release");
        } finally {
            vertx.close().toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
            registry.close();
            ClusteredEventBusTest.deleteTree(dir);
        }
    }
}
