package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
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
import io.quarkus.test.QuarkusUnitTest;

/**
 * External mode: the application uses a node-level worker daemon by its socket, and shares the daemon's one loaded
 * copy of the model with any other client.
 */
class ExternalWorkerTest {

    static final Path MODEL = TestModelFiles.write("external-affine.onnx", TinyModels.affine());
    // Unix socket paths are limited to 108 bytes: not under target/, whose path depends on the checkout.
    static final Path SOCKET = Path.of("/dev/shm", "qms-external-" + ProcessHandle.current().pid() + ".sock");
    static ModelRegistry daemonRegistry;
    static SharedMemoryPool daemonPool;
    static WorkerServer daemon;

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(TestModelFiles.class))
            .setBeforeAllCustomizer(ExternalWorkerTest::startDaemon)
            .setAfterAllCustomizer(ExternalWorkerTest::stopDaemon)
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", MODEL.toString())
            .overrideConfigKey("quarkus.model-sharing.models.affine.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.workers.mode", "external")
            .overrideConfigKey("quarkus.model-sharing.workers.socket", SOCKET.toString());

    @Inject
    @Model("affine")
    InferenceModel affine;

    @Test
    void theApplicationAndAnotherClientShareTheDaemonsOneCopy() {
        float[] row = { 1, 2, 3, 4 };
        try (Tensor x = Tensor.of(row, 1, 4); InferenceResult result = affine.run(Map.of("x", x))) {
            assertArrayEquals(TinyModels.expectedAffine(row, TinyModels.BIAS), result.get("y").toFloatArray());
        }
        try (SharedMemoryPool otherPool = SharedMemoryPool.open(SharedMemorySettings.defaults());
                WorkerClient other = WorkerClient.connect(SOCKET, otherPool, "another application");
                Tensor x = Tensor.of(row, 1, 4);
                InferenceResult result = other.infer("affine", Map.of("x", x), Duration.ofSeconds(10))) {
            assertArrayEquals(TinyModels.expectedAffine(row, TinyModels.BIAS), result.get("y").toFloatArray());
            assertEquals("1", other.status(Duration.ofSeconds(5)).get("loads:affine"), "one loaded copy for every client");
        }
    }

    static void startDaemon() {
        try {
            daemonRegistry = ModelRegistry.builder().build();
            daemonRegistry.register("affine", OnnxModelLoader.of("affine", ModelSource.file(MODEL)));
            daemonPool = SharedMemoryPool.open(SharedMemorySettings.defaults());
            daemon = WorkerServer.start(new WorkerSettings(SOCKET, Set.of(), 1, 16, Duration.ofSeconds(10), "node-daemon"),
                    daemonRegistry, daemonPool);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void stopDaemon() {
        try {
            daemon.close();
            daemonRegistry.close();
            daemonPool.close();
            Files.deleteIfExists(MODEL);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
