package io.quarkiverse.modelsharing.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.inference.RegistryInferenceModel;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;

/** A worker in this JVM, a client in this JVM, each with its own shared-memory pool: the protocol end to end. */
class WorkerTest {

    static final float[] ROW = { 1, 2, 3, 4 };

    ShmTestRoots.Root shm;
    Path socket;
    ModelRegistry registry;
    SharedMemoryPool workerPool;
    SharedMemoryPool clientPool;
    WorkerServer server;

    @BeforeEach
    void startWorker() throws Exception {
        shm = ShmTestRoots.create();
        socket = shm.root.resolve("worker.sock");
        registry = ModelRegistry.builder().build();
        registry.register("affine", OnnxModelLoader.of("affine", ModelSource.bytes("affine", TinyModels.affine())));
        registry.register("slow", OnnxModelLoader.of("slow", ModelSource.bytes("slow", TinyModels.slow(256, 40))));
        workerPool = SharedMemoryPool.open(shm.settings(1 << 20, 16 << 20));
        clientPool = SharedMemoryPool.open(shm.settings(1 << 20, 16 << 20));
        server = WorkerServer.start(new WorkerSettings(socket, Set.of(), 1, 1, Duration.ofSeconds(30), "test-worker"),
                registry, workerPool);
    }

    @AfterEach
    void stopWorker() throws Exception {
        server.close();
        registry.close();
        clientPool.close();
        workerPool.close();
        shm.close();
    }

    @Test
    void aWorkerGivesTheSameResultsAsInProcess() {
        try (WorkerClient client = WorkerClient.connect(socket, clientPool, "test");
                Tensor shared = clientPool.allocate(DType.F32, 1, 4);
                Tensor offHeap = Tensor.of(ROW, 1, 4)) {
            shared.copyFrom(ROW);
            WorkerInferenceModel remote = new WorkerInferenceModel(client, "affine", Duration.ofSeconds(10));
            RegistryInferenceModel local = new RegistryInferenceModel(registry, "affine");
            assertEquals(local.inputs(), remote.inputs());
            assertEquals(local.outputs(), remote.outputs());
            for (Tensor input : List.of(shared, offHeap)) {
                try (InferenceResult there = remote.run(Map.of("x", input));
                        InferenceResult here = local.run(Map.of("x", input))) {
                    assertArrayEquals(here.get("y").toFloatArray(), there.get("y").toFloatArray());
                    assertEquals(StorageKind.SHARED, there.get("y").storageKind(), "a view of the worker's memory");
                    assertTrue(there.get("y").isReadOnly());
                }
            }
            assertEquals("affine,slow", client.status(Duration.ofSeconds(5)).get("models"));
            WorkerException unknown = assertThrows(WorkerException.class,
                    () -> client.infer("nope", Map.of("x", offHeap), Duration.ofSeconds(5)));
            assertEquals(Frame.ErrorCode.UNKNOWN_MODEL, unknown.code());
            assertEquals("No model named 'nope' is registered; registered models: [affine, slow]", unknown.getMessage());
            try (Tensor wrong = Tensor.of(new float[] { 1, 2, 3 }, 1, 3)) {
                WorkerException invalid = assertThrows(WorkerException.class,
                        () -> client.infer("affine", Map.of("x", wrong), Duration.ofSeconds(5)));
                assertEquals("Model 'affine' expects input x: F32[?, 4], got Tensor[F32 [1, 3] shared read-only]",
                        invalid.getMessage());
            }
        }
    }

    @Test
    void aClientWithoutSharedMemoryGetsItsTensorsInline() {
        try (WorkerClient client = WorkerClient.connect(socket, TensorAllocator.offHeap(), "no-shm");
                Tensor x = Tensor.of(ROW, 1, 4);
                InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(10))) {
            assertArrayEquals(TinyModels.expectedAffine(ROW, TinyModels.BIAS), result.get("y").toFloatArray());
            assertEquals(StorageKind.OFF_HEAP, result.get("y").storageKind(), "the bytes came through the socket");
        }
    }

    @Test
    void aWorkerWithoutSharedMemoryGetsTensorsInlineFromAClientThatHasIt() throws Exception {
        Path inlineSocket = shm.root.resolve("inline.sock");
        try (WorkerServer inline = WorkerServer.start(new WorkerSettings(inlineSocket, Set.of(), 1, 16,
                Duration.ofSeconds(30), "no-shm"), registry, TensorAllocator.offHeap());
                WorkerClient client = WorkerClient.connect(inlineSocket, clientPool, "has-shm");
                Tensor x = clientPool.allocate(DType.F32, 1, 4)) {
            x.copyFrom(ROW);
            try (InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(10))) {
                assertArrayEquals(TinyModels.expectedAffine(ROW, TinyModels.BIAS), result.get("y").toFloatArray());
                assertEquals(StorageKind.OFF_HEAP, result.get("y").storageKind(), "the welcome said: no shared memory");
            }
        }
    }

    @Test
    void longErrorsAndStatusValuesAreCutNotLost() throws Exception {
        for (int i = 0; i < 300; i++) {
            registry.register(String.format("a-rather-long-model-name-%04d", i), OnnxModelLoader.of("affine",
                    ModelSource.bytes("affine", TinyModels.affine())));
        }
        try (WorkerClient client = WorkerClient.connect(socket, clientPool, "test");
                Tensor x = Tensor.of(ROW, 1, 4)) {
            WorkerException unknown = assertThrows(WorkerException.class,
                    () -> client.infer("nope", Map.of("x", x), Duration.ofSeconds(10)));
            assertTrue(unknown.getMessage().startsWith("No model named 'nope' is registered; registered models: [a-rather"),
                    unknown.getMessage());
            assertTrue(unknown.getMessage().endsWith("..."), "cut to the frame's 4 KiB strings, not dropped");
            assertTrue(client.status(Duration.ofSeconds(10)).get("models").endsWith("..."));
            assertEquals("affine", client.load("affine", Duration.ofSeconds(10)).model(), "the connection still works");
        }
    }

    @Test
    void aWorkerConnectionReconnectsToARestartedWorker() throws Exception {
        try (WorkerConnection connection = new WorkerConnection(() -> socket, clientPool, "reconnecting",
                Duration.ofSeconds(10)); Tensor x = Tensor.of(ROW, 1, 4)) {
            connection.client().infer("affine", Map.of("x", x), Duration.ofSeconds(10)).close();
            server.close();
            server = WorkerServer.start(new WorkerSettings(socket, Set.of(), 1, 1, Duration.ofSeconds(30), "again"),
                    registry, workerPool);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (connection.client().isConnected() && System.nanoTime() < deadline) {
                Thread.onSpinWait(); // until the old connection has seen its worker go
            }
            try (InferenceResult result = connection.client().infer("affine", Map.of("x", x), Duration.ofSeconds(10))) {
                assertArrayEquals(TinyModels.expectedAffine(ROW, TinyModels.BIAS), result.get("y").toFloatArray());
                assertEquals("again", connection.client().workerName());
            }
        }
    }

    @Test
    void leasesEndWhenTheConnectionCloses() throws Exception {
        WorkerClient client = WorkerClient.connect(socket, clientPool, "test");
        try (Tensor x = Tensor.of(ROW, 1, 4)) {
            client.infer("affine", Map.of("x", x), Duration.ofSeconds(10)); // never closed: the output stays leased
            client.infer("affine", Map.of("x", x), Duration.ofSeconds(10)).close(); // released at once
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (server.outputBytes() != 128 && System.nanoTime() < deadline) {
            Thread.sleep(10); // the second release is on its way
        }
        assertEquals(128, server.outputBytes(), "one output (one 64-byte header, 64 bytes of data) is still leased");
        client.close();
        while (server.connections() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(0, server.outputBytes(), "closing the connection released its leases");
    }

    @Test
    void onlyAllowedUsersMayConnect() throws Exception {
        Path other = shm.root.resolve("strict.sock");
        try (WorkerServer strict = WorkerServer.start(new WorkerSettings(other, Set.of("nobody"), 1, 1,
                Duration.ofSeconds(1), "strict"), registry, workerPool)) {
            WorkerException refused = assertThrows(WorkerException.class, () -> WorkerClient.connect(other, clientPool, "me"));
            assertEquals(Frame.ErrorCode.FORBIDDEN, refused.code());
            assertEquals("User '" + System.getProperty("user.name") + "' may not use worker 'strict'; allowed users: [nobody]",
                    refused.getMessage());
        }
    }

    @Test
    void aFullQueueFailsFastWithOverloaded() throws Exception {
        try (WorkerClient client = WorkerClient.connect(socket, clientPool, "test");
                Tensor x = Tensor.allocate(DType.F32, 256, 256);
                ExecutorService callers = Executors.newFixedThreadPool(4)) {
            List<CompletableFuture<InferenceResult>> calls = new ArrayList<>();
            for (int i = 0; i < 4; i++) { // one runs, one waits, the rest find the queue full
                calls.add(CompletableFuture.supplyAsync(() -> client.infer("slow", Map.of("x", x), Duration.ofSeconds(60)),
                        callers));
            }
            int overloaded = 0;
            for (CompletableFuture<InferenceResult> call : calls) {
                try {
                    call.get(60, TimeUnit.SECONDS).close();
                } catch (ExecutionException e) {
                    WorkerException refused = (WorkerException) e.getCause();
                    assertEquals(Frame.ErrorCode.OVERLOADED, refused.code());
                    assertEquals("Worker 'test-worker' is overloaded: 1 requests are already waiting; retry later",
                            refused.getMessage());
                    overloaded++;
                }
            }
            assertTrue(overloaded >= 1, "at least one request found the queue full");
        }
    }

    @Test
    void requestsForTheSameModelAreBatchedAndEachGetsItsOwnRows() throws Exception {
        Path batching = shm.root.resolve("batching.sock");
        try (WorkerServer batched = WorkerServer.start(new WorkerSettings(batching, Set.of(), 1, 64, Duration.ofSeconds(30),
                "batching", 8, Duration.ofMillis(200)), registry, workerPool);
                WorkerClient client = WorkerClient.connect(batching, clientPool, "test");
                ExecutorService callers = Executors.newFixedThreadPool(4)) {
            client.load("affine", Duration.ofSeconds(10));
            List<CompletableFuture<float[]>> calls = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                float[] row = { i, i + 1, i + 2, i + 3 };
                calls.add(CompletableFuture.supplyAsync(() -> {
                    try (Tensor x = clientPool.allocate(DType.F32, 1, 4)) {
                        x.copyFrom(row);
                        try (InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(30))) {
                            return result.get("y").toFloatArray();
                        }
                    }
                }, callers));
            }
            for (int i = 0; i < 4; i++) {
                float[] row = { i, i + 1, i + 2, i + 3 };
                assertArrayEquals(TinyModels.expectedAffine(row, TinyModels.BIAS), calls.get(i).get(30, TimeUnit.SECONDS),
                        "request " + i + " got its own row back");
            }
            long[] counts = batched.batchCounts();
            assertEquals(4, counts[1]);
            assertTrue(counts[0] < 4, "4 requests ran in " + counts[0] + " batches");
            assertEquals("4", client.status(Duration.ofSeconds(5)).get("requests"));
        }
    }

    @Test
    void manyConcurrentBatchedRequestsEachGetTheirOwnAnswer() throws Exception {
        Path batching = shm.root.resolve("many.sock");
        try (WorkerServer batched = WorkerServer.start(
                new WorkerSettings(batching, Set.of(), Integer.getInteger("dbg.threads", 2), 1024, Duration.ofSeconds(30),
                        "many", Integer.getInteger("dbg.batch", 8), Duration.ofMillis(10)),
                registry, workerPool);
                WorkerClient first = WorkerClient.connect(batching, clientPool, "first");
                WorkerClient second = WorkerClient.connect(batching, clientPool, "second");
                ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor()) {
            first.load("affine", Duration.ofSeconds(10));
            List<CompletableFuture<String>> calls = new ArrayList<>();
            for (int i = 0; i < 200; i++) {
                float[] row = { i, 1, 2, 3 };
                WorkerClient client = i % 2 == 0 ? first : second; // batches mix requests of two connections
                calls.add(CompletableFuture.supplyAsync(() -> {
                    try (Tensor x = Tensor.of(row, 1, 4);
                            InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(30))) {
                        float[] expected = TinyModels.expectedAffine(row, TinyModels.BIAS);
                        float[] got = result.get("y").toFloatArray();
                        return java.util.Arrays.equals(expected, got) ? "ok" : "wrong " + java.util.Arrays.toString(got);
                    } catch (RuntimeException e) {
                        return "failed " + e.getMessage();
                    }
                }, callers));
            }
            for (CompletableFuture<String> call : calls) {
                assertEquals("ok", call.get(60, TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void aRequestPastItsTimeoutIsCancelled() throws Exception {
        try (WorkerClient client = WorkerClient.connect(socket, clientPool, "test");
                Tensor x = Tensor.allocate(DType.F32, 256, 256)) {
            WorkerException late = assertThrows(WorkerException.class,
                    () -> client.infer("slow", Map.of("x", x), Duration.ofMillis(1)));
            assertEquals(Frame.ErrorCode.TIMEOUT, late.code());
            // whichever side's clock runs out first says so: the client's wait, or the worker's deadline check
            assertTrue(late.getMessage().startsWith("Worker 'test-worker' did not answer request ")
                    || late.getMessage().endsWith("for model 'slow' waited past its deadline in the worker's queue"),
                    late.getMessage());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!"0".equals(client.status(Duration.ofSeconds(5)).get("queue")) && System.nanoTime() < deadline) {
                Thread.sleep(20); // the abandoned request may already be running: it keeps its slot until it ends
            }
            try (Tensor row = Tensor.of(ROW, 1, 4);
                    InferenceResult after = client.infer("affine", Map.of("x", row), Duration.ofSeconds(30))) {
                assertEquals(2, after.get("y").elementCount(), "the connection still serves");
            }
        }
    }

    @Test
    void aConnectionIsStillReadWhileOneOfItsRequestsRuns() throws Exception {
        registry.register("slower", OnnxModelLoader.of("slower", ModelSource.bytes("slower", TinyModels.slow(512, 60))));
        try (WorkerClient client = WorkerClient.connect(socket, clientPool, "test");
                Tensor x = Tensor.allocate(DType.F32, 512, 512)) {
            client.load("slower", Duration.ofSeconds(30));
            CompletableFuture<InferenceResult> running = CompletableFuture
                    .supplyAsync(() -> client.infer("slower", Map.of("x", x), Duration.ofSeconds(60)));
            awaitRuns(server, 1);
            // the request runs in the thread that read it; the connection's next frame is read by another
            Map<String, String> status = client.status(Duration.ofSeconds(5));
            assertFalse(running.isDone(), "the status came back while the request still ran");
            assertEquals("1", status.get("queue"));
            running.get(60, TimeUnit.SECONDS).close();
            Map<String, String> after = client.status(Duration.ofSeconds(5));
            assertEquals("1", after.get("runs-in-reading-thread"), "it ran in the thread that read it");
            assertEquals("1", after.get("reading-hand-offs"), "which first handed the reading on");
        }
    }

    @Test
    void quickModelsRunWithoutHandingTheReadingOn() throws Exception {
        try (WorkerClient client = WorkerClient.connect(socket, clientPool, "test"); Tensor x = Tensor.of(ROW, 1, 4)) {
            Runnable twenty = () -> {
                for (int i = 0; i < 20; i++) {
                    try (InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(30))) {
                        assertArrayEquals(TinyModels.expectedAffine(ROW, TinyModels.BIAS), result.get("y").toFloatArray());
                    }
                }
            };
            twenty.run(); // a model not yet timed, or timed while the JVM warms up, hands the reading on
            Map<String, String> warm = client.status(Duration.ofSeconds(5));
            twenty.run();
            Map<String, String> status = client.status(Duration.ofSeconds(5));
            assertEquals("40", status.get("requests"));
            assertEquals(warm.get("reading-hand-offs"), status.get("reading-hand-offs"), "a quick model's runs do not");
            // (a request that arrives before the previous run's slot is given back goes to an inference thread)
            assertTrue(Long.parseLong(status.get("runs-in-reading-thread"))
                    - Long.parseLong(warm.get("runs-in-reading-thread")) > 1, status.toString());
        }
    }

    @Test
    void runsInConnectionThreadsCountAgainstTheWorkersThreads() throws Exception {
        registry.register("slower", OnnxModelLoader.of("slower", ModelSource.bytes("slower", TinyModels.slow(512, 60))));
        Path oneThread = shm.root.resolve("one-thread.sock");
        try (WorkerServer worker = WorkerServer.start(new WorkerSettings(oneThread, Set.of(), 1, 8, Duration.ofSeconds(30),
                "one-thread"), registry, workerPool);
                WorkerClient first = WorkerClient.connect(oneThread, clientPool, "first");
                WorkerClient second = WorkerClient.connect(oneThread, clientPool, "second");
                Tensor x = Tensor.allocate(DType.F32, 512, 512);
                Tensor row = Tensor.of(ROW, 1, 4)) {
            first.load("slower", Duration.ofSeconds(30));
            second.load("affine", Duration.ofSeconds(30));
            CompletableFuture<Void> slow = CompletableFuture
                    .runAsync(() -> first.infer("slower", Map.of("x", x), Duration.ofSeconds(60)).close());
            awaitRuns(worker, 1);
            // One thread (WorkerSettings.threads = 1): the tiny request, on its own connection, may run only once the
            // slow one has been answered, which takes it out of the queue count before its run slot is given back.
            second.infer("affine", Map.of("x", row), Duration.ofSeconds(60)).close();
            assertEquals(0, worker.queueDepth(), "the slow request was answered before the tiny one ran");
            slow.get(60, TimeUnit.SECONDS);
        }
    }

    @Test
    void closingWaitsForTheRunsInProgress() throws Exception {
        registry.register("slower", OnnxModelLoader.of("slower", ModelSource.bytes("slower", TinyModels.slow(512, 60))));
        Path closing = shm.root.resolve("closing.sock");
        WorkerServer worker = WorkerServer.start(new WorkerSettings(closing, Set.of(), 1, 8, Duration.ofSeconds(30),
                "closing"), registry, workerPool);
        try (WorkerClient client = WorkerClient.connect(closing, clientPool, "test");
                Tensor x = Tensor.allocate(DType.F32, 512, 512)) {
            client.load("slower", Duration.ofSeconds(30));
            CompletableFuture<Void> running = CompletableFuture.runAsync(() -> {
                try {
                    client.infer("slower", Map.of("x", x), Duration.ofSeconds(60)).close();
                } catch (WorkerUnavailableException gone) { // the worker closed under it: its answer is dropped
                    assertTrue(gone.getMessage().startsWith("Worker unavailable: 'closing' at "), gone.getMessage());
                }
            });
            awaitRuns(worker, 1);
            worker.close();
            // the run has ended (it leaves the queue count as it ends), so the registry can be closed after this
            assertEquals(0, worker.queueDepth(), "close() returned while a model was still running");
            running.get(60, TimeUnit.SECONDS);
        }
    }

    /** Waits until the worker has started {@code runs} runs (the count goes up as a run starts). */
    private static void awaitRuns(WorkerServer worker, long runs) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (worker.batchCounts()[0] < runs) {
            assertTrue(System.nanoTime() < deadline, "the worker never started " + runs + " run(s)");
            Thread.sleep(1);
        }
    }
}
