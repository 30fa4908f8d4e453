package io.quarkiverse.modelsharing.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

/** Concurrent calls of different lengths batched in process, each checked against the model's math. */
class BatchingInferenceModelTest {

    private static final Set<String> INPUTS = Set.of("input_ids", "attention_mask", "token_type_ids");
    private static OnnxModel encoder;

    @BeforeAll
    static void load() throws Exception {
        encoder = OnnxModelLoader.of("tiny", ModelSource.bytes("tiny", TinyModels.textEncoder(0))).load();
    }

    @AfterAll
    static void close() throws Exception {
        encoder.close();
    }

    /** Records the batch shapes it runs; the first run waits for {@code gate}, so that callers queue behind it. */
    private static final class Gated implements InferenceModel {
        final List<long[]> shapes = new CopyOnWriteArrayList<>();
        final CountDownLatch entered = new CountDownLatch(1);
        final CountDownLatch gate;
        /** Thrown by runs of several rows, if set. */
        volatile Error batchError;

        Gated(CountDownLatch gate) {
            this.gate = gate;
        }

        @Override
        public String name() {
            return "tiny";
        }

        @Override
        public List<TensorSpec> inputs() {
            return encoder.inputs();
        }

        @Override
        public List<TensorSpec> outputs() {
            return encoder.outputs();
        }

        @Override
        public InferenceResult run(Map<String, Tensor> inputs) {
            shapes.add(inputs.get("input_ids").shape());
            entered.countDown();
            try {
                gate.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (batchError != null && inputs.get("input_ids").dim(0) > 1) {
                throw batchError;
            }
            return encoder.run(inputs);
        }
    }

    private static long[] ids(Random random, int length) {
        long[] ids = new long[length];
        for (int i = 0; i < length; i++) {
            ids[i] = 1 + random.nextInt(TinyModels.VOCABULARY - 1);
        }
        return ids;
    }

    /** Runs one text of {@code ids} through {@code model} and checks every value against the plain-Java encoder. */
    private static void check(InferenceModel model, long[] ids) {
        long[] ones = new long[ids.length];
        Arrays.fill(ones, 1);
        long[] types = new long[ids.length];
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        try (Tensor a = Tensor.of(ids, 1, ids.length);
                Tensor m = Tensor.of(ones, 1, ids.length);
                Tensor t = Tensor.of(types, 1, ids.length)) {
            inputs.put("input_ids", a);
            inputs.put("attention_mask", m);
            inputs.put("token_type_ids", t);
            try (InferenceResult result = model.run(inputs)) {
                Tensor hidden = result.get("last_hidden_state");
                assertArrayEquals(new long[] { 1, ids.length, TinyModels.WIDTH }, hidden.shape());
                float[][] expected = TinyModels.expectedHidden(ids, types);
                float[] actual = hidden.toFloatArray();
                for (int token = 0; token < ids.length; token++) {
                    for (int d = 0; d < TinyModels.WIDTH; d++) {
                        assertEquals(expected[token][d], actual[token * TinyModels.WIDTH + d], 1e-5,
                                "token " + token + " of a text of " + ids.length);
                    }
                }
            }
        }
    }

    @Test
    void concurrentCallersOfMixedLengthsEachGetTheirOwnAnswer() throws Exception {
        Padding padding = Padding.text(0, INPUTS, Set.of("last_hidden_state"), 0);
        try (BatchingInferenceModel model = new BatchingInferenceModel(encoder,
                new BatchingInferenceModel.Settings(16, 0, 1, padding), TensorAllocator.offHeap())) {
            ExecutorService callers = Executors.newFixedThreadPool(16);
            try {
                List<Future<?>> calls = new ArrayList<>();
                for (int caller = 0; caller < 16; caller++) {
                    Random random = new Random(caller);
                    calls.add(callers.submit(() -> {
                        for (int i = 0; i < 100; i++) {
                            check(model, ids(random, 1 + random.nextInt(40)));
                        }
                        return null;
                    }));
                }
                for (Future<?> call : calls) {
                    call.get(2, TimeUnit.MINUTES);
                }
            } finally {
                callers.shutdownNow();
            }
            long[] counts = model.runsAndRequests();
            assertEquals(1600, counts[1]);
            assertTrue(counts[0] < counts[1], "some calls ran together: " + counts[0] + " runs for 1600 calls");
            assertTrue(model.paddingWaste() > 0, "batches of mixed lengths were padded");
        }
    }

    @Test
    void callsQueuedBehindARunBatchPaddedAndByBucket() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        Gated gated = new Gated(gate);
        Padding padding = Padding.text(0, INPUTS, Set.of("last_hidden_state"), 8);
        try (BatchingInferenceModel model = new BatchingInferenceModel(gated,
                new BatchingInferenceModel.Settings(16, 0, 1, padding), TensorAllocator.offHeap())) {
            ExecutorService callers = Executors.newFixedThreadPool(5);
            try {
                Random random = new Random(42);
                Future<?> first = callers.submit(() -> check(model, ids(random, 3)));
                assertTrue(gated.entered.await(30, TimeUnit.SECONDS), "the first call runs at once, alone");
                List<Future<?>> queued = new ArrayList<>();
                for (int length : new int[] { 2, 7, 9, 16 }) {
                    long[] ids = ids(new Random(length), length);
                    queued.add(callers.submit(() -> check(model, ids)));
                }
                awaitQueued(model, 4); // the four later calls wait behind the first run
                gate.countDown();
                first.get(30, TimeUnit.SECONDS);
                for (Future<?> call : queued) {
                    call.get(30, TimeUnit.SECONDS);
                }
            } finally {
                callers.shutdownNow();
            }
            assertArrayEquals(new long[] { 1, 3 }, gated.shapes.get(0));
            assertArrayEquals(new long[] { 2, 7 }, gated.shapes.get(1), "2 and 7 tokens share the bucket [1, 8], padded");
            assertArrayEquals(new long[] { 2, 16 }, gated.shapes.get(2), "9 and 16 share the next");
            assertEquals(3, gated.shapes.size());
        }
    }

    @Test
    void aRequestThatBreaksItsBatchFailsAloneAndTheOthersGetAnswers() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        Gated gated = new Gated(gate);
        Padding padding = Padding.text(0, INPUTS, Set.of("last_hidden_state"), 0);
        try (BatchingInferenceModel model = new BatchingInferenceModel(gated,
                new BatchingInferenceModel.Settings(16, 0, 1, padding), TensorAllocator.offHeap())) {
            ExecutorService callers = Executors.newFixedThreadPool(4);
            try {
                Future<?> first = callers.submit(() -> check(model, new long[] { 5, 6 }));
                assertTrue(gated.entered.await(30, TimeUnit.SECONDS));
                Future<?> good = callers.submit(() -> check(model, new long[] { 1, 2, 3 }));
                Future<?> bad = callers.submit(() -> check(model, new long[] { TinyModels.VOCABULARY + 5 }));
                awaitQueued(model, 2);
                gate.countDown();
                first.get(30, TimeUnit.SECONDS);
                good.get(30, TimeUnit.SECONDS);
                java.util.concurrent.ExecutionException failure = assertThrows(
                        java.util.concurrent.ExecutionException.class, () -> bad.get(30, TimeUnit.SECONDS));
                assertTrue(failure.getCause().getMessage().contains("out of bounds")
                        || failure.getCause().getMessage().toLowerCase().contains("indices"),
                        failure.getCause().getMessage());
            } finally {
                callers.shutdownNow();
            }
            assertEquals(4, gated.shapes.size(), "the first run, the failed batch of 2, then each of its requests alone");
        }
    }

    /** Polls, with a deadline, until {@code model} has {@code count} calls queued. */
    private static void awaitQueued(BatchingInferenceModel model, int count) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (model.queued() != count && System.nanoTime() < deadline) {
            Thread.onSpinWait();
        }
        assertEquals(count, model.queued());
    }

    @Test
    void oneLongTextDoesNotMakeABatchOfShortOnesManyTimesTheirSize() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        Gated gated = new Gated(gate);
        Padding padding = Padding.text(0, INPUTS, Set.of("last_hidden_state"), 0);
        try (BatchingInferenceModel model = new BatchingInferenceModel(gated,
                new BatchingInferenceModel.Settings(16, 0, 1, padding), TensorAllocator.offHeap())) {
            ExecutorService callers = Executors.newFixedThreadPool(5);
            try {
                Future<?> first = callers.submit(() -> check(model, ids(new Random(1), 3)));
                assertTrue(gated.entered.await(30, TimeUnit.SECONDS));
                List<Future<?>> queued = new ArrayList<>();
                for (int length : new int[] { 2, 2, 2, 100 }) {
                    long[] ids = ids(new Random(length), length);
                    queued.add(callers.submit(() -> check(model, ids)));
                    awaitQueued(model, queued.size());
                }
                gate.countDown();
                first.get(30, TimeUnit.SECONDS);
                for (Future<?> call : queued) {
                    call.get(30, TimeUnit.SECONDS);
                }
            } finally {
                callers.shutdownNow();
            }
            assertArrayEquals(new long[] { 3, 2 }, gated.shapes.get(1), "the short texts together");
            assertArrayEquals(new long[] { 1, 100 }, gated.shapes.get(2), "the long one alone: 4 x 100 positions for 106");
        }
    }

    @Test
    void anErrorFromABatchedRunAnswersEveryCallerOfTheBatch() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        Gated gated = new Gated(gate);
        gated.batchError = new StackOverflowError("thrown by the model for a batch");
        try (BatchingInferenceModel model = new BatchingInferenceModel(gated, new BatchingInferenceModel.Settings(16, 0, 1,
                Padding.text(0, INPUTS, Set.of("last_hidden_state"), 0)), TensorAllocator.offHeap())) {
            ExecutorService callers = Executors.newFixedThreadPool(3);
            try {
                Future<?> first = callers.submit(() -> check(model, new long[] { 1, 2, 3 }));
                assertTrue(gated.entered.await(30, TimeUnit.SECONDS));
                Future<?> second = callers.submit(() -> check(model, new long[] { 4, 5 }));
                Future<?> third = callers.submit(() -> check(model, new long[] { 6 }));
                awaitQueued(model, 2);
                gate.countDown();
                first.get(30, TimeUnit.SECONDS);
                for (Future<?> call : List.of(second, third)) {
                    java.util.concurrent.ExecutionException failure = assertThrows(
                            java.util.concurrent.ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS));
                    assertEquals("thrown by the model for a batch", failure.getCause().getMessage());
                }
            } finally {
                callers.shutdownNow();
            }
        }
    }

    @Test
    void closingFailsTheCallsItsBatcherHoldsAndRefusesLaterOnes() throws Exception {
        CountDownLatch gate = new CountDownLatch(1);
        Gated gated = new Gated(gate);
        // a batch waits up to a minute for more: close() comes while the dispatcher holds one
        BatchingInferenceModel model = new BatchingInferenceModel(gated, new BatchingInferenceModel.Settings(16,
                TimeUnit.MINUTES.toNanos(1), 1, Padding.text(0, INPUTS, Set.of("last_hidden_state"), 0)),
                TensorAllocator.offHeap());
        ExecutorService callers = Executors.newFixedThreadPool(2);
        try {
            Future<?> first = callers.submit(() -> check(model, new long[] { 1, 2, 3 }));
            assertTrue(gated.entered.await(30, TimeUnit.SECONDS));
            Future<?> held = callers.submit(() -> check(model, new long[] { 4, 5 }));
            awaitQueued(model, 1);
            gate.countDown();
            first.get(30, TimeUnit.SECONDS);
            awaitQueued(model, 0); // taken by the dispatcher, which waits for more
            model.close();
            java.util.concurrent.ExecutionException failure = assertThrows(java.util.concurrent.ExecutionException.class,
                    () -> held.get(30, TimeUnit.SECONDS));
            assertEquals("Model 'tiny' closed before this request ran", failure.getCause().getMessage());
            assertEquals("Model 'tiny' is closed: the application is stopping", assertThrows(
                    io.quarkiverse.modelsharing.ModelSharingException.class, () -> check(model, new long[] { 7 }))
                    .getMessage());
        } finally {
            model.close();
            callers.shutdownNow();
        }
    }
}
