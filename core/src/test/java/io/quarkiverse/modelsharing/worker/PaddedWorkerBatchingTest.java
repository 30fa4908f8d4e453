package io.quarkiverse.modelsharing.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.inference.Padding;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * A worker that pads: texts of different lengths from several clients run as one batch, and each client gets its
 * own tokens' answers, while a client that sends ragged or out-of-range inputs, or tries to change the padding, fails
 * alone.
 */
class PaddedWorkerBatchingTest {

    static final Padding PADDING = Padding.text(0, Set.of("input_ids", "attention_mask", "token_type_ids"),
            Set.of("last_hidden_state"), 0);

    ShmTestRoots.Root shm;
    ModelRegistry registry;
    SharedMemoryPool workerPool;
    SharedMemoryPool clientPool;

    @BeforeEach
    void setUp() {
        shm = ShmTestRoots.create();
        registry = ModelRegistry.builder().build();
        registry.register("tiny", OnnxModelLoader.of("tiny", ModelSource.bytes("tiny", TinyModels.textEncoder(0))));
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

    /** Runs one text; "" if every value is the plain-Java encoder's, else what is wrong. */
    static String call(WorkerClient client, long[] ids, long[] mask) {
        long[] types = new long[ids.length];
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        try (Tensor a = Tensor.of(ids, 1, ids.length);
                Tensor m = Tensor.of(mask, 1, mask.length);
                Tensor t = Tensor.of(types, 1, ids.length)) {
            inputs.put("input_ids", a);
            inputs.put("attention_mask", m);
            inputs.put("token_type_ids", t);
            try (InferenceResult result = client.infer("tiny", inputs, Duration.ofSeconds(60))) {
                Tensor hidden = result.get("last_hidden_state");
                if (hidden.dim(1) != ids.length) {
                    return "got " + hidden + " for " + ids.length + " tokens";
                }
                float[][] expected = TinyModels.expectedHidden(ids, types);
                float[] actual = hidden.toFloatArray();
                for (int token = 0; token < ids.length; token++) {
                    for (int d = 0; d < TinyModels.WIDTH; d++) {
                        if (Math.abs(expected[token][d] - actual[token * TinyModels.WIDTH + d]) > 1e-5) {
                            return "token " + token + " of " + ids.length + ": " + actual[token * TinyModels.WIDTH + d]
                                    + " instead of " + expected[token][d];
                        }
                    }
                }
                return "";
            }
        } catch (RuntimeException e) {
            return "failed " + e.getMessage();
        }
    }

    static long[] ones(int length) {
        long[] mask = new long[length];
        Arrays.fill(mask, 1);
        return mask;
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "max delay {0} ms")
    @org.junit.jupiter.params.provider.ValueSource(ints = { 5, 0 }) // 0: continuous batching
    void textsOfMixedLengthsFromSeveralClientsBatchAndEachGetsItsOwnAnswer(int maxDelayMillis) throws Exception {
        Path socket = shm.root.resolve("padded.sock");
        try (WorkerServer worker = WorkerServer.start(new WorkerSettings(socket, Set.of(), 1, 4096, Duration.ofSeconds(60),
                "padded", 16, Duration.ofMillis(maxDelayMillis)), registry, workerPool, Map.of("tiny", PADDING));
                ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor()) {
            List<WorkerClient> clients = new ArrayList<>();
            try {
                for (int i = 0; i < 4; i++) {
                    clients.add(WorkerClient.connect(socket, clientPool, "good-" + i));
                }
                WorkerClient bad = WorkerClient.connect(socket, clientPool, "bad");
                clients.add(bad);
                clients.get(0).load("tiny", PADDING, Duration.ofSeconds(30));
                List<CompletableFuture<String>> good = new ArrayList<>();
                List<CompletableFuture<String>> ragged = new ArrayList<>();
                List<CompletableFuture<String>> outOfRange = new ArrayList<>();
                Random random = new Random(7);
                for (int i = 0; i < 800; i++) {
                    WorkerClient client = clients.get(i % 4);
                    long[] ids = new long[1 + random.nextInt(30)];
                    for (int t = 0; t < ids.length; t++) {
                        ids[t] = 1 + random.nextInt(TinyModels.VOCABULARY - 1);
                    }
                    good.add(CompletableFuture.supplyAsync(() -> call(client, ids, ones(ids.length)), callers));
                    if (i % 8 == 0) {
                        // a mask longer than the ids: the model broadcasts nothing here, it fails on its own
                        ragged.add(CompletableFuture.supplyAsync(() -> call(bad, new long[] { 5, 6 }, ones(3)), callers));
                        outOfRange.add(CompletableFuture.supplyAsync(
                                () -> call(bad, new long[] { 1, TinyModels.VOCABULARY + 3 }, ones(2)), callers));
                    }
                }
                List<String> problems = new ArrayList<>();
                for (CompletableFuture<String> call : good) {
                    String problem = call.get(2, TimeUnit.MINUTES);
                    if (!problem.isEmpty()) {
                        problems.add(problem);
                    }
                }
                assertEquals(List.of(), problems.subList(0, Math.min(5, problems.size())),
                        problems.size() + " of 800 good answers are wrong");
                for (CompletableFuture<String> call : ragged) {
                    assertTrue(call.get(2, TimeUnit.MINUTES).startsWith("failed "), "a ragged request fails alone");
                }
                for (CompletableFuture<String> call : outOfRange) {
                    String failure = call.get(2, TimeUnit.MINUTES);
                    assertTrue(failure.contains("out of data bounds"), failure);
                }
                long[] counts = worker.batchCounts();
                assertTrue(counts[0] < counts[1], counts[1] + " requests in " + counts[0] + " runs: none were batched");
                Map<String, String> status = clients.get(0).status(Duration.ofSeconds(10));
                assertTrue(Double.parseDouble(status.get("padding-waste:tiny")) > 0, status.toString());
                Padding other = Padding.text(99, Set.of("input_ids", "attention_mask", "token_type_ids"),
                        Set.of("last_hidden_state"), 0);
                WorkerException refused = assertThrows(WorkerException.class,
                        () -> bad.load("tiny", other, Duration.ofSeconds(10)));
                assertEquals("Model 'tiny' was started with padding " + PADDING + "; a load cannot give it padding "
                        + other + ": start the worker with --padding tiny=" + other, refused.getMessage());
                assertEquals("", call(clients.get(1), new long[] { 3, 4, 5 }, ones(3)), "the padding is as it was");
            } finally {
                clients.forEach(WorkerClient::close);
            }
        }
    }

    @Test
    void aModelRegisteredByALoadKeepsItsFirstPadding() throws Exception {
        Path socket = shm.root.resolve("dynamic.sock");
        java.nio.file.Path model = shm.root.resolve("tiny.onnx");
        java.nio.file.Files.write(model, TinyModels.textEncoder(0));
        try (WorkerServer worker = WorkerServer.start(new WorkerSettings(socket, Set.of(), 1, 64, Duration.ofSeconds(60),
                "dynamic", 16, Duration.ofMillis(5)), ModelRegistry.builder().build(), workerPool);
                WorkerClient first = WorkerClient.connect(socket, clientPool, "first");
                WorkerClient second = WorkerClient.connect(socket, clientPool, "second")) {
            worker.allowDynamicModels();
            first.load("text=" + model, PADDING, Duration.ofSeconds(30));
            Padding other = new Padding(Map.of("input_ids", 1.0), 1, Set.of(), 0);
            WorkerException refused = assertThrows(WorkerException.class,
                    () -> second.load("text=" + model, other, Duration.ofSeconds(30)));
            assertEquals("Model 'text' is registered with padding " + PADDING + "; a load cannot change it to " + other
                    + ": register the model under another name", refused.getMessage());
            assertEquals("Model 'text' is registered with padding " + PADDING + "; a load cannot change it to none:"
                    + " register the model under another name",
                    assertThrows(WorkerException.class,
                            () -> second.load("text=" + model, null, Duration.ofSeconds(30))).getMessage());
            second.load("text=" + model, PADDING, Duration.ofSeconds(30));
            assertEquals(PADDING, worker.padding("text"));
        } finally {
            java.nio.file.Files.deleteIfExists(model);
        }
    }

    @Test
    void aRequestOfAnotherLengthBucketWaitsForABatchOfItsOwnRatherThanEndingOne() throws Exception {
        Path socket = shm.root.resolve("buckets.sock");
        Padding buckets = Padding.text(0, Set.of("input_ids", "attention_mask", "token_type_ids"),
                Set.of("last_hidden_state"), 8);
        // a batch waits for four rows: the eight requests make exactly two batches, one per bucket, whatever their order
        try (WorkerServer worker = WorkerServer.start(new WorkerSettings(socket, Set.of(), 1, 64, Duration.ofSeconds(60),
                "buckets", 4, Duration.ofSeconds(30)), registry, workerPool, Map.of("tiny", buckets));
                WorkerClient client = WorkerClient.connect(socket, clientPool, "client");
                ExecutorService callers = Executors.newVirtualThreadPerTaskExecutor()) {
            client.load("tiny", Duration.ofSeconds(30));
            List<CompletableFuture<String>> calls = new ArrayList<>();
            for (int length : new int[] { 3, 20, 5, 18, 6, 19, 7, 21 }) {
                long[] ids = new long[length];
                java.util.Arrays.fill(ids, 7);
                calls.add(CompletableFuture.supplyAsync(() -> call(client, ids, ones(length)), callers));
            }
            for (CompletableFuture<String> call : calls) {
                assertEquals("", call.get(2, TimeUnit.MINUTES));
            }
            org.junit.jupiter.api.Assertions.assertArrayEquals(new long[] { 2, 8 }, worker.batchCounts(),
                    "lengths 3 to 7 in one batch, 18 to 21 in the other");
        }
    }
}
