package io.quarkiverse.modelsharing.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelBuilder;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * Batching in a worker shared by several clients: whatever one client sends, another's answers stay its own.
 */
class BatcherTest {

    ShmTestRoots.Root shm;
    ModelRegistry registry;
    SharedMemoryPool workerPool;
    SharedMemoryPool clientPool;

    @BeforeEach
    void setUp() {
        shm = ShmTestRoots.create();
        registry = ModelRegistry.builder().build();
        registry.register("add", OnnxModelLoader.of("add", ModelSource.bytes("add", add())));
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
     * z = x + y for x F32[?, 4] and y F32[?, 4] (a y of one row broadcasts over x's rows, and the other way round):
     * every input and output has a free first dimension, so the worker batches it.
     */
    static byte[] add() {
        return OnnxModelBuilder.create("add")
                .input("x", DType.F32, -1, 4)
                .input("y", DType.F32, -1, 4)
                .node("Add", List.of("x", "y"), List.of("z"))
                .output("z", DType.F32, -1, 4)
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

    /** {@code rows} rows of 4 values that tell requests apart. */
    static float[] values(int rows, int seed) {
        float[] values = new float[rows * 4];
        for (int i = 0; i < values.length; i++) {
            values[i] = seed * 100 + i;
        }
        return values;
    }

    /** Runs add; "ok" if the answer is what the model computes for these inputs alone, else what went wrong. */
    static String call(WorkerClient client, String model, float[] x, int xRows, float[] y, int yRows) {
        float[] expected = add(x, xRows, y, yRows);
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
}
