package io.quarkiverse.modelsharing.deployment;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.worker.WorkerUnavailableException;
import io.quarkus.test.QuarkusUnitTest;

/**
 * placement=worker moves a model into a managed worker process with no code change: the same results as in process,
 * and a worker killed mid-request fails its requests at once and is back within 2 s.
 */
class WorkerPlacementTest {

    static final Path AFFINE = TestModelFiles.write("worker-placement-affine.onnx", TinyModels.affine());
    static final Path SLOW = TestModelFiles.write("worker-placement-slow.onnx", TinyModels.slow(1024, 160));

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(TestModelFiles.class))
            // a mode set by the application keeps Dev Services out: managed workers, not the shared daemon
            .overrideConfigKey("quarkus.model-sharing.workers.mode", "managed")
            .overrideConfigKey("quarkus.model-sharing.models.local.path", AFFINE.toString())
            .overrideConfigKey("quarkus.model-sharing.models.remote.path", AFFINE.toString())
            .overrideConfigKey("quarkus.model-sharing.models.remote.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.models.slow.path", SLOW.toString())
            .overrideConfigKey("quarkus.model-sharing.models.slow.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.workers.threads", "1")
            .overrideConfigKey("quarkus.model-sharing.inference-protocol.enabled", "true")
            .overrideConfigKey("quarkus.model-sharing.workers.heartbeat-interval", "300ms")
            .setAfterAllCustomizer(() -> {
                AFFINE.toFile().delete();
                SLOW.toFile().delete();
            });

    @Inject
    @Model("local")
    InferenceModel local;

    @Inject
    @Model("remote")
    InferenceModel remote;

    @Inject
    @Model("slow")
    InferenceModel slow;

    @Inject
    WorkerPool workers;

    @Inject
    TensorAllocator tensors;

    @Test
    void theOpenInferenceProtocolServesAWorkerPlacedModelAsItServesAnInProcessOne() {
        String request = "{\"inputs\": [{\"name\": \"x\", \"shape\": [2, 4], \"datatype\": \"FP32\","
                + " \"data\": [1, 2, 3, 4, 5, 6, 7, 8]}]}";
        String here = given().contentType("application/json").body(request).post("/v2/models/local/infer").then()
                .statusCode(200).extract().path("outputs[0].data").toString();
        given().contentType("application/json").body(request).post("/v2/models/remote/infer").then().statusCode(200)
                .body("model_name", equalTo("remote")).body("outputs[0].shape", org.hamcrest.Matchers.contains(2, 2));
        String there = given().contentType("application/json").body(request).post("/v2/models/remote/infer").then()
                .extract().path("outputs[0].data").toString();
        assertEquals(here, there);
        given().get("/v2/models/remote/ready").then().statusCode(200);
    }

    @Test
    void bothPlacementsGiveTheSameResults() {
        try (Tensor x = Tensor.of(new float[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 2, 4);
                InferenceResult here = local.run(Map.of("x", x));
                InferenceResult there = remote.run(Map.of("x", x))) {
            assertArrayEquals(here.get("y").toFloatArray(), there.get("y").toFloatArray());
            assertEquals(StorageKind.SHARED, there.get("y").storageKind(), "a view of the worker's shared memory");
            assertEquals(local.inputs(), remote.inputs());
        }
        given().get("/q/health/ready").then().statusCode(200).body("checks[0].data.'worker cpu#0'", equalTo("up"));
        String[] arguments = ProcessHandle.of(workers.pids().get(0)).orElseThrow().info().arguments().orElseThrow();
        assertEquals(Long.toString(ProcessHandle.current().pid()),
                arguments[List.of(arguments).indexOf("--parent-pid") + 1],
                "the worker watches this application, to leave with it even if it is killed");
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("model_sharing_worker_requests_seconds_count"))
                .body(containsString("model_sharing_worker_queue "))
                .body(containsString("model_sharing_worker_restarts_total"));
    }

    @Test
    void aKilledWorkerFailsItsRequestsAtOnceAndIsBackWithinTwoSeconds() throws Exception {
        long pid = workers.pids().get(0);
        try (Tensor x = tensors.allocate(DType.F32, 1024, 1024); ExecutorService callers = Executors.newFixedThreadPool(2)) {
            slow.inputs(); // connected and loaded
            List<CompletableFuture<Void>> calls = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                calls.add(CompletableFuture.runAsync(() -> slow.run(Map.of("x", x)).close(), callers));
            }
            Thread.sleep(300);
            ProcessHandle.of(pid).orElseThrow().destroyForcibly();
            long killed = System.nanoTime();
            for (CompletableFuture<Void> call : calls) {
                ExecutionException e = assertThrows(ExecutionException.class, () -> call.get(10, TimeUnit.SECONDS));
                assertTrue(e.getCause() instanceof WorkerUnavailableException, e.getCause().toString());
                assertTrue(e.getCause().getMessage().startsWith("Worker unavailable: 'cpu#0' at "), e.getCause().getMessage());
            }
            long failed = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
            assertTrue(failed < 100, "in-flight requests failed " + failed + " ms after the kill");
        }
        long killed = System.nanoTime();
        float[] answer = null;
        while (answer == null && System.nanoTime() - killed < TimeUnit.SECONDS.toNanos(10)) {
            try (Tensor row = Tensor.of(new float[] { 1, 2, 3, 4 }, 1, 4);
                    InferenceResult result = remote.run(Map.of("x", row))) {
                answer = result.get("y").toFloatArray();
            } catch (WorkerUnavailableException restarting) {
                Thread.sleep(20);
            }
        }
        long back = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
        assertArrayEquals(TinyModels.expectedAffine(new float[] { 1, 2, 3, 4 }, TinyModels.BIAS), answer);
        assertTrue(back < 2000, "the worker answered again " + back + " ms after the kill");
        assertNotEquals(pid, workers.pids().get(0));
        assertEquals(1, workers.restarts());
        Path shm = Path.of("/dev/shm", "quarkus-model-sharing-" + Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (deadFiles(shm, pid) > 0 && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertEquals(0, deadFiles(shm, pid), "nothing of the killed worker is left in /dev/shm");
    }

    @Test
    void aScrapeReadsWhatTheLastHeartbeatFound() throws Exception {
        remote.inputs(); // connected
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (Double.isNaN(workers.workerStatus("status-requests")) && System.nanoTime() < deadline) {
            Thread.sleep(20); // the restarted worker of another test has not answered a heartbeat yet
        }
        double first = workers.workerStatus("status-requests");
        assertTrue(first >= 1, "the heartbeats' status requests: " + first);
        assertTrue(workers.workerStatus("queue") >= 0);
        assertTrue(workers.workerStatus("runs") >= 0);
        double seen = first;
        while (seen < first + 2 && System.nanoTime() < deadline) {
            double now = workers.workerStatus("status-requests");
            assertTrue(now == seen || now == seen + workers.pids().size(),
                    "each reading is one heartbeat's, from one status request to each worker: " + seen + ", then " + now);
            seen = now;
            Thread.sleep(20);
        }
        assertEquals(first + 2, seen, "the heartbeats go on, and scrapes add no status request of their own");
    }

    private static long deadFiles(Path shm, long pid) throws IOException {
        if (!Files.isDirectory(shm)) {
            return 0;
        }
        try (var files = Files.list(shm)) {
            return files.filter(f -> f.getFileName().toString().contains("-" + pid + "-")).count();
        }
    }

}
