package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import jakarta.inject.Inject;

import org.eclipse.microprofile.config.ConfigProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.worker.WorkerClient;
import io.quarkus.test.QuarkusUnitTest;

/**
 * In test mode, with no worker configured, a model placed in workers is served by the shared Dev Services daemon:
 * started once, found again through its socket, and said in the log.
 */
class DevServicesWorkerTest {

    static final Path MODEL = TestModelFiles.write("devservices-affine.onnx", TinyModels.affine());

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(TestModelFiles.class))
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", MODEL.toString())
            .overrideConfigKey("quarkus.model-sharing.models.affine.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.devservices.linger", "2s")
            .setLogRecordPredicate(record -> record.getMessage() != null && record.getMessage().contains("Dev Services"))
            .assertLogRecords(records -> assertTrue(records.stream().anyMatch(record -> record.getMessage()
                    .contains("Dev Services for Quarkus Model Sharing")), "the log says where the daemon runs"))
            .setAfterAllCustomizer(() -> MODEL.toFile().delete());

    @Inject
    @Model("affine")
    InferenceModel affine;

    @Inject
    WorkerPool workers;

    @Inject
    TensorAllocator tensors;

    @Test
    void theSharedDaemonServesTheModel() throws Exception {
        float[] row = { 1, 2, 3, 4 };
        try (Tensor x = Tensor.of(row, 1, 4); InferenceResult result = affine.run(Map.of("x", x))) {
            assertArrayEquals(TinyModels.expectedAffine(row, TinyModels.BIAS), result.get("y").toFloatArray());
        }
        assertTrue(workers.pids().isEmpty(), "no managed worker: the shared daemon serves");
        Path socket = Path.of(ConfigProvider.getConfig().getValue("quarkus.model-sharing.workers.socket", String.class));
        assertTrue(socket.getFileName().toString().startsWith("devservices-v"), socket.toString());
        try (WorkerClient other = WorkerClient.connect(socket, tensors, "another test")) {
            String models = other.status(Duration.ofSeconds(5)).get("models");
            assertTrue(models.contains("affine@"), "the daemon serves the application's model: " + models);
            assertEquals("devservices", other.workerName());
        }
    }
}
