package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkus.test.QuarkusUnitTest;

/** An eager model placed in workers is loaded in every worker at startup, before any request. */
class EagerWorkerModelTest {

    static final Path MODEL = TestModelFiles.write("eager-worker-affine.onnx", TinyModels.affine());

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(TestModelFiles.class))
            .overrideConfigKey("quarkus.model-sharing.workers.mode", "managed")
            .overrideConfigKey("quarkus.model-sharing.workers.per-device", "2")
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", MODEL.toString())
            .overrideConfigKey("quarkus.model-sharing.models.affine.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.models.affine.load", "eager")
            .setLogRecordPredicate(record -> record.getMessage() != null && record.getMessage().startsWith("Loaded "))
            .assertLogRecords(records -> assertTrue(records.stream().anyMatch(record -> String.format(record.getMessage(),
                    record.getParameters()).equals("Loaded model 'affine' in 2 worker(s) at startup")), "the log says so"))
            .setAfterAllCustomizer(() -> MODEL.toFile().delete());

    @Inject
    WorkerPool workers;

    @Inject
    @Model("affine")
    InferenceModel affine;

    @Test
    void everyWorkerHasItLoadedBeforeTheFirstRequest() {
        assertEquals(2, workers.size());
        for (int i = 0; i < workers.size(); i++) {
            Map<String, String> status = workers.connection().client().status(Duration.ofSeconds(10));
            assertEquals("affine", status.get("models"));
            assertEquals("1", status.get("loads:affine"), "loaded at startup in worker " + status.get("pid"));
            assertEquals("0", status.get("requests"), "and no request has run");
        }
        float[] row = { 1, 2, 3, 4 };
        try (Tensor x = Tensor.of(row, 1, 4); InferenceResult result = affine.run(Map.of("x", x))) {
            assertArrayEquals(TinyModels.expectedAffine(row, TinyModels.BIAS), result.get("y").toFloatArray());
        }
    }

    @Test
    void aRestartedWorkerLoadsItAgainBeforeServing() throws Exception {
        long killed = workers.pids().get(0);
        ProcessHandle worker = ProcessHandle.of(killed).orElseThrow();
        worker.destroyForcibly();
        worker.onExit().get(10, TimeUnit.SECONDS);
        for (int i = 0; i < workers.size(); i++) { // reconnecting waits for the restarted worker
            Map<String, String> status = workers.connection().client().status(Duration.ofSeconds(10));
            assertEquals("1", status.get("loads:affine"), "loaded on connecting, in worker " + status.get("pid"));
        }
        assertTrue(!workers.pids().contains(killed) && workers.pids().size() == 2, "restarted: " + workers.pids());
    }
}
