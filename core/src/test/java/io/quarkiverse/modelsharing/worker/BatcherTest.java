package io.quarkiverse.modelsharing.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelBuilder;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * Batching in a worker shared by several clients: whatever one client sends, another's answers stay its own, and a
 * request cancelled while it waits never runs.
 */
class BatcherTest {

    /** The rows {@link #lookup()} looks up: row r is {r, r + 10, r + 20, r + 30}. */
    static final float[] TABLE = { 0, 10, 20, 30, 1, 11, 21, 31, 2, 12, 22, 32, 3, 13, 23, 33, 4, 14, 24, 34 };

    ShmTestRoots.Root shm;
    ModelRegistry registry;
    SharedMemoryPool workerPool;
    SharedMemoryPool clientPool;

    @BeforeEach
    void setUp() {
        shm = ShmTestRoots.create();
        registry = ModelRegistry.builder().build();
        registry.register("add", OnnxModelLoader.of("add", ModelSource.bytes("add", twoInputs("Add"))));
        registry.register("concat", OnnxModelLoader.of("concat", ModelSource.bytes("concat", twoInputs("Concat"))));
        registry.register("lookup", OnnxModelLoader.of("lookup", ModelSource.bytes("lookup", lookup())));
        registry.register("slower", OnnxModelLoader.of("slower", ModelSource.bytes("slower", TinyModels.slow(512, 60))));
        workerPool = SharedMemoryPool.open(shm.settings(1 << 20, 64 << 20));
        clientPool = SharedMemoryPool.open(shm.settings(1 << 20, 64 << 20));
    }

    @AfterEach
    void tearDown() {
        registry.close();
        clientPool.close();
        workerPool.close();
        shm.close();
    }

    /**
     * z = x + y (Add: a y of one row broadcasts over x's rows, and the other way round) or z = x stacked on y (Concat
     * along the first dimension: z has the rows of both, so its first dimension is not the batch), for x F32[?, 4]
     * and y F32[?, 4]: every input and output has a free first dimension, so the worker batches both.
     */
    static byte[] twoInputs(String op) {
        return OnnxModelBuilder.create(op.toLowerCase())
                .input("x", DType.F32, -1, 4)
                .input("y", DType.F32, -1, 4)
                .node(op, List.of("x", "y"), List.of("z"), op.equals("Concat") ? Map.of("axis", 0L) : Map.of())
                .output("z", DType.F32, -1, 4)
                .build();
    }

    /** y = the rows of {@link #TABLE} that i names: i I64[?], y F32[?, 4]; an index past the table fails the run. */
    static byte[] lookup() {
        return OnnxModelBuilder.create("lookup")
                .input("i", DType.I64, -1)
                .initializer("table", TABLE, 5, 4)
                .node("Gather", List.of("table", "i"), List.of("y"))
                .output("y", DType.F32, -1, 4)
                .build();
    }

    @Test
    void aClientWhoseInputsDisagreeOnRowsNeverChangesAnotherClientsAnswers() throws Exception {
        Path socket = shm.root.resolve("shared.sock");
        try (WorkerServer worker = WorkerServer.start(new WorkerSettings(socket, Set.of(), 2, 4096, Duration.ofSeconds(60),
                "shared", 8, Duration.ofMillis(5)), registry, workerPool);
                WorkerClient good = WorkerClient.connect(socket, clientPool, "good");
                WorkerClient bad = WorkerClient.connect(socket, clientPool, "bad");
                ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor()) {
            good.load("add", Duration.ofSeconds(30));
            List<CompletableFuture<String>> goodCalls = new ArrayList<>();
            List<CompletableFuture<String>> badCalls = new ArrayList<>();
            for (int i = 0; i < 500; i++) {
                int rows = 1 + i % 3;
                float[] x = values(rows, i);
                float[] y = values(rows, -i);
                goodCalls.add(CompletableFuture.supplyAsync(() -> call(good, "add", x, rows, y, rows), callers));
                if (i % 2 == 0) {
                    // x of one row with y of none, or of three: each a broadcast the model accepts on its own
                    int badRows = i % 4 == 0 ? 0 : 3;
                    badCalls.add(CompletableFuture.supplyAsync(
                            () -> call(bad, "add", values(1, 7), 1, values(badRows, 3), badRows), callers));
                }
            }
            List<String> goodProblems = problems(goodCalls);
            List<String> badProblems = problems(badCalls);
            long[] counts = worker.batchCounts();
            assertTrue(counts[0] < counts[1], "requests were batched: " + counts[1] + " requests in " + counts[0] + " runs");
            assertEquals(0, goodProblems.size(), goodProblems.size() + " of the good client's 500 answers are wrong or"
                    + " failed, e.g. " + goodProblems.subList(0, Math.min(3, goodProblems.size())));
            // the bad client's requests cannot be stacked: each runs alone, where the model broadcasts them
            assertEquals(0, badProblems.size(), badProblems.size() + " of the bad client's 250 answers are not the"
                    + " broadcasts the model computes, e.g. " + badProblems.subList(0, Math.min(3, badProblems.size())));
        }
    }

    @Test
    void anOutputWhoseFirstDimensionIsNotTheBatchIsNotSplit() throws Exception {
        Path socket = shm.root.resolve("concat.sock");
        // a batch waits for four rows: the four requests below make exactly one batch
        try (WorkerServer worker = WorkerServer.start(new WorkerSettings(socket, Set.of(), 1, 64, Duration.ofSeconds(60),
                "concat", 4, Duration.ofSeconds(30)), registry, workerPool);
                WorkerClient first = WorkerClient.connect(socket, clientPool, "first");
                WorkerClient second = WorkerClient.connect(socket, clientPool, "second");
                ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor()) {
            first.load("concat", Duration.ofSeconds(30));
            List<CompletableFuture<String>> calls = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                WorkerClient client = i % 2 == 0 ? first : second;
                float[] x = values(1, i);
                float[] y = values(1, -i);
                calls.add(CompletableFuture.supplyAsync(() -> call(client, "concat", x, 1, y, 1), callers));
            }
            // the batch's output has 8 rows for its 4: split, each request would get one row of the wrong two
            assertEquals(List.of(), problems(calls), "each request gets both its rows");
            assertArrayEquals(new long[] { 5, 8 }, worker.batchCounts(), "one batch, then each of its requests alone");
        }
    }

    @Test
    void aBatchThatFailsIsRerunRequestByRequest() throws Exception {
        Path socket = shm.root.resolve("rerun.sock");
        // a batch waits for four rows: the four requests below make exactly one batch
        try (WorkerServer worker = WorkerServer.start(new WorkerSettings(socket, Set.of(), 1, 64, Duration.ofSeconds(60),
                "rerun", 4, Duration.ofSeconds(30)), registry, workerPool);
                WorkerClient good = WorkerClient.connect(socket, clientPool, "good");
                WorkerClient bad = WorkerClient.connect(socket, clientPool, "bad");
                ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor()) {
            good.load("lookup", Duration.ofSeconds(30));
            List<CompletableFuture<String>> goodCalls = new ArrayList<>();
            for (long index : new long[] { 0, 2, 4 }) {
                goodCalls.add(CompletableFuture.supplyAsync(() -> lookup(good, index), callers));
            }
            CompletableFuture<String> badCall = CompletableFuture.supplyAsync(() -> lookup(bad, 7), callers);
            assertEquals(List.of(), problems(goodCalls), "the good requests of the failed batch get their rows");
            String failure = badCall.get(60, TimeUnit.SECONDS);
            assertTrue(failure.startsWith("failed INTERNAL Model 'lookup' failed: Model 'lookup' failed to run: "),
                    failure);
            assertTrue(failure.endsWith("indices element out of data bounds, idx=7 must be within the inclusive range"
                    + " [-5,4]"), "the bad request fails alone, with its own index: " + failure);
            assertArrayEquals(new long[] { 5, 8 }, worker.batchCounts(), "one batch, then each of its requests alone");
        }
    }

    @Test
    void aCancelledRequestThatWaitsIsDroppedWithoutRunning() throws Exception {
        Path socket = shm.root.resolve("cancel.sock");
        try (WorkerServer worker = WorkerServer.start(new WorkerSettings(socket, Set.of(), 1, 8, Duration.ofSeconds(60),
                "cancel"), registry, workerPool);
                WorkerClient client = WorkerClient.connect(socket, clientPool, "test");
                Tensor x = Tensor.allocate(DType.F32, 512, 512)) {
            client.load("slower", Duration.ofSeconds(30));
            CompletableFuture<Void> running = CompletableFuture
                    .runAsync(() -> client.infer("slower", Map.of("x", x), Duration.ofSeconds(60)).close());
            await(() -> worker.batchCounts()[0] == 1, "the first request never started running");
            CompletableFuture<RuntimeException> queued = new CompletableFuture<>();
            Thread waiter = Thread.ofPlatform().start(() -> {
                try {
                    client.infer("slower", Map.of("x", x), Duration.ofSeconds(60)).close();
                    queued.complete(null);
                } catch (RuntimeException e) {
                    queued.complete(e);
                }
            });
            await(() -> worker.queueDepth() == 2, "the second request never reached the worker's queue");
            waiter.interrupt(); // the client gives up on it: it sends the worker a cancel
            WorkerException cancelled = assertInstanceOf(WorkerException.class, queued.get(60, TimeUnit.SECONDS));
            assertEquals(Frame.ErrorCode.CANCELLED, cancelled.code());
            assertEquals("Interrupted while waiting for worker 'cancel'", cancelled.getMessage());
            // frames of a connection are handled in order: this status comes after the worker handled the cancel
            Map<String, String> status = client.status(Duration.ofSeconds(30));
            assertFalse(running.isDone(), "the cancel came while the first request still ran: " + status);
            running.get(60, TimeUnit.SECONDS);
            await(() -> worker.queueDepth() == 0, "the cancelled request never left the queue count");
            assertArrayEquals(new long[] { 1, 1 }, worker.batchCounts(), "only the first request ran");
            try (Tensor row = Tensor.of(new float[] { 1, 2, 3, 4 }, 1, 4);
                    InferenceResult after = client.infer("add", Map.of("x", row, "y", row), Duration.ofSeconds(30))) {
                assertArrayEquals(new float[] { 2, 4, 6, 8 }, after.get("z").toFloatArray(), "the connection still serves");
            }
        }
    }

    /** {@code rows} rows of 4 values that tell requests apart. */
    static float[] values(int rows, int seed) {
        float[] values = new float[rows * 4];
        for (int i = 0; i < values.length; i++) {
            values[i] = seed * 100 + i;
        }
        return values;
    }

    /** Runs add or concat; "ok" if the answer is what the model computes for these inputs alone, else what went wrong. */
    static String call(WorkerClient client, String model, float[] x, int xRows, float[] y, int yRows) {
        float[] expected = model.equals("add") ? add(x, xRows, y, yRows) : concat(x, y);
        try (Tensor xs = Tensor.of(x, xRows, 4);
                Tensor ys = Tensor.of(y, yRows, 4);
                InferenceResult result = client.infer(model, Map.of("x", xs, "y", ys), Duration.ofSeconds(60))) {
            float[] got = result.get("z").toFloatArray();
            return Arrays.equals(expected, got) ? "ok"
                    : "wrong " + model + " x" + xRows + " y" + yRows + ": " + Arrays.toString(got) + " instead of "
                            + Arrays.toString(expected);
        } catch (RuntimeException e) {
            return "failed " + model + " x" + xRows + " y" + yRows + ": " + e.getMessage();
        }
    }

    /** x + y with numpy broadcasting of a single row. */
    static float[] add(float[] x, int xRows, float[] y, int yRows) {
        int rows = xRows == 1 ? yRows : xRows;
        float[] sum = new float[rows * 4];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < 4; c++) {
                sum[r * 4 + c] = x[(xRows == 1 ? 0 : r) * 4 + c] + y[(yRows == 1 ? 0 : r) * 4 + c];
            }
        }
        return sum;
    }

    static float[] concat(float[] x, float[] y) {
        float[] both = Arrays.copyOf(x, x.length + y.length);
        System.arraycopy(y, 0, both, x.length, y.length);
        return both;
    }

    /** Looks up one row; "ok" if it is the table's, else "failed CODE message". */
    static String lookup(WorkerClient client, long index) {
        try (Tensor i = Tensor.of(new long[] { index }, 1);
                InferenceResult result = client.infer("lookup", Map.of("i", i), Duration.ofSeconds(60))) {
            float[] expected = Arrays.copyOfRange(TABLE, (int) index * 4, (int) index * 4 + 4);
            float[] got = result.get("y").toFloatArray();
            return Arrays.equals(expected, got) ? "ok" : "wrong row " + index + ": " + Arrays.toString(got);
        } catch (WorkerException e) {
            return "failed " + e.code() + " " + e.getMessage();
        }
    }

    /** The answers that are not "ok". */
    static List<String> problems(List<CompletableFuture<String>> calls) throws Exception {
        List<String> problems = new ArrayList<>();
        for (CompletableFuture<String> call : calls) {
            String answer = call.get(120, TimeUnit.SECONDS);
            if (!answer.equals("ok")) {
                problems.add(answer);
            }
        }
        return problems;
    }

    static void await(BooleanSupplier condition, String otherwise) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, otherwise);
            Thread.sleep(1);
        }
    }
}
