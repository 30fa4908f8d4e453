package io.quarkiverse.modelsharing.deployment;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkus.test.QuarkusUnitTest;

/**
 * A managed worker that is alive but does not serve, a frozen JVM (SIGSTOP) or a model stuck in a run, is found by
 * its heartbeat: readiness says why it is down, and it is killed and replaced by a process that answers.
 */
class WorkerHeartbeatTest {

    static final Path AFFINE = TestModelFiles.write("worker-heartbeat-affine.onnx", TinyModels.affine());
    /** Runs for minutes: far past the request timeout. */
    static final Path STUCK = TestModelFiles.write("worker-heartbeat-stuck.onnx", TinyModels.slow(2048, 300));
    static final long HEARTBEAT_TIMEOUT_MS = 1000;
    static final long HEARTBEAT_INTERVAL_MS = 200;
    /** Time enough for a worker JVM to start on a loaded machine. */
    static final long START_MS = 15_000;

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(TestModelFiles.class))
            .overrideConfigKey("quarkus.model-sharing.workers.mode", "managed")
            .overrideConfigKey("quarkus.model-sharing.workers.heartbeat-interval", HEARTBEAT_INTERVAL_MS + "ms")
            .overrideConfigKey("quarkus.model-sharing.workers.heartbeat-timeout", HEARTBEAT_TIMEOUT_MS + "ms")
            .overrideConfigKey("quarkus.model-sharing.workers.timeout", "2s")
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", AFFINE.toString())
            .overrideConfigKey("quarkus.model-sharing.models.affine.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.models.stuck.path", STUCK.toString())
            .overrideConfigKey("quarkus.model-sharing.models.stuck.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.models.stuck.load", "eager") // its load is not the run
            .setAfterAllCustomizer(() -> {
                AFFINE.toFile().delete();
                STUCK.toFile().delete();
            });

    @Inject
    @Model("affine")
    InferenceModel affine;

    @Inject
    @Model("stuck")
    InferenceModel stuck;

    @Inject
    WorkerPool workers;

    @Inject
    TensorAllocator tensors;

    @Test
    void aStoppedWorkerIsReportedDownAndReplaced() throws Exception {
        awaitWorker("up"::equals, START_MS, "the worker answers its heartbeats");
        long pid = workers.pids().get(0);
        long restarts = workers.restarts();
        Process stop = new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start();
        assertEquals(0, stop.waitFor(), "SIGSTOP sent");
        long stopped = System.nanoTime();
        try {
            String expected = "down: pid " + pid + " did not answer its heartbeat within 1 s";
            awaitWorker(expected::equals, HEARTBEAT_TIMEOUT_MS + 2 * HEARTBEAT_INTERVAL_MS + 1000,
                    "readiness says the frozen worker is down, and why");
            awaitAnswerFromANewWorker(pid, stopped, HEARTBEAT_TIMEOUT_MS + 2 * HEARTBEAT_INTERVAL_MS + START_MS);
            assertFalse(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false), "the frozen worker was killed");
            assertEquals(restarts + 1, workers.restarts(), "through the restart path, counted");
        } finally {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    @Test
    void aWorkerStuckInARunIsReportedDownAndReplaced() throws Exception {
        awaitWorker("up"::equals, START_MS, "the worker answers its heartbeats");
        long pid = workers.pids().get(0);
        long restarts = workers.restarts();
        try (Tensor x = tensors.allocate(DType.F32, 2048, 2048)) {
            long started = System.nanoTime();
            CompletableFuture<Void> call = CompletableFuture.runAsync(() -> stuck.run(Map.of("x", x)).close());
            String prefix = "down: pid " + pid + " has been in one run for ";
            String suffix = " ms, past the request timeout (2 s) plus the heartbeat timeout (1 s)";
            String said = awaitWorker(state -> state.startsWith(prefix) && state.endsWith(suffix),
                    2000 + HEARTBEAT_TIMEOUT_MS + 2 * HEARTBEAT_INTERVAL_MS + 1000,
                    "readiness says the worker is stuck in a run, and for how long");
            long ranFor = Long.parseLong(said.substring(prefix.length(), said.length() - suffix.length()));
            assertTrue(ranFor > 3000, "a run past 2 s + 1 s: " + said);
            assertTrue(call.handle((ok, failure) -> failure != null).get(30, TimeUnit.SECONDS),
                    "the stuck request failed");
            awaitAnswerFromANewWorker(pid, started, 2000 + HEARTBEAT_TIMEOUT_MS + 2 * HEARTBEAT_INTERVAL_MS + START_MS);
            assertEquals(restarts + 1, workers.restarts(), "through the restart path, counted");
        }
    }

    /** Polls readiness until the worker's entry satisfies {@code expected}; returns the entry. */
    private static String awaitWorker(Predicate<String> expected, long withinMillis, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(withinMillis);
        String state = null;
        while (System.nanoTime() < deadline) {
            state = given().get("/q/health/ready").then().extract().path("checks[0].data.'worker cpu#0'");
            if (state != null && expected.test(state)) {
                return state;
            }
            Thread.sleep(20);
        }
        return fail("not within " + withinMillis + " ms: " + what + "; readiness last said '" + state + "'");
    }

    /** Polls until a process other than {@code old} serves and answers a request, and readiness says it is up. */
    private void awaitAnswerFromANewWorker(long old, long since, long withinMillis) throws InterruptedException {
        long deadline = since + TimeUnit.MILLISECONDS.toNanos(withinMillis);
        float[] answer = null;
        while (answer == null && System.nanoTime() < deadline) {
            if (!workers.pids().isEmpty() && workers.pids().get(0) != old) {
                try (Tensor row = Tensor.of(new float[] { 1, 2, 3, 4 }, 1, 4);
                        InferenceResult result = affine.run(Map.of("x", row))) {
                    answer = result.get("y").toFloatArray();
                } catch (RuntimeException restarting) {
                    // not serving yet
                }
            }
            Thread.sleep(20);
        }
        assertArrayEquals(TinyModels.expectedAffine(new float[] { 1, 2, 3, 4 }, TinyModels.BIAS), answer,
                "a new worker answered within " + withinMillis + " ms");
        awaitWorker("up"::equals, Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()))
                + 2 * HEARTBEAT_INTERVAL_MS + 1000, "readiness says the new worker is up");
    }
}
