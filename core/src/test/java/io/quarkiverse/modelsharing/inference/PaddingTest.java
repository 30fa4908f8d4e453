package io.quarkiverse.modelsharing.inference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.tensor.TensorException;

class PaddingTest {

    private static final Padding TEXT = Padding.text(7, Set.of("input_ids", "attention_mask"), Set.of("hidden"), 0);

    private static Map<String, Tensor> request(long[] ids) {
        long[] mask = new long[ids.length];
        java.util.Arrays.fill(mask, 1);
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        inputs.put("input_ids", Tensor.of(ids, 1, ids.length));
        inputs.put("attention_mask", Tensor.of(mask, 1, ids.length));
        return inputs;
    }

    @Test
    void stacksRequestsOfDifferentLengthsPaddedWithEachInputsValue() {
        List<Map<String, Tensor>> requests = List.of(request(new long[] { 1, 2, 3 }), request(new long[] { 4 }));
        Map<String, Tensor> stacked = Batches.stack(requests, TEXT, TensorAllocator.offHeap());
        try {
            assertArrayEquals(new long[] { 2, 3 }, stacked.get("input_ids").shape());
            assertArrayEquals(new long[] { 1, 2, 3, 4, 7, 7 }, stacked.get("input_ids").toLongArray());
            assertArrayEquals(new long[] { 1, 1, 1, 1, 0, 0 }, stacked.get("attention_mask").toLongArray());
            assertArrayEquals(new long[] { 2, 6 }, Batches.padding(requests, TEXT), "2 of 6 positions are padding");
        } finally {
            stacked.values().forEach(Tensor::close);
            requests.forEach(r -> r.values().forEach(Tensor::close));
        }
    }

    @Test
    void splitsSequenceOutputsBackToEachRequestsLengthAndOthersByRows() {
        List<Map<String, Tensor>> requests = List.of(request(new long[] { 1, 2, 3 }), request(new long[] { 4 }));
        // hidden [2, 3, 2]: row 0 = 0..5, row 1 = 10..15; pooled [2, 2]
        float[] hidden = { 0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15 };
        Map<String, Tensor> outputs = new LinkedHashMap<>();
        outputs.put("hidden", Tensor.of(hidden, 2, 3, 2));
        outputs.put("pooled", Tensor.of(new float[] { 1, 2, 3, 4 }, 2, 2));
        List<Map<String, Tensor>> parts = Batches.split("m", outputs, requests, TEXT, TensorAllocator.offHeap());
        try {
            assertArrayEquals(new long[] { 1, 3, 2 }, parts.get(0).get("hidden").shape());
            assertArrayEquals(new float[] { 0, 1, 2, 3, 4, 5 }, parts.get(0).get("hidden").toFloatArray());
            assertArrayEquals(new long[] { 1, 1, 2 }, parts.get(1).get("hidden").shape(), "trimmed to its one token");
            assertArrayEquals(new float[] { 10, 11 }, parts.get(1).get("hidden").toFloatArray());
            assertArrayEquals(new float[] { 3, 4 }, parts.get(1).get("pooled").toFloatArray());
        } finally {
            parts.forEach(p -> p.values().forEach(Tensor::close));
            outputs.values().forEach(Tensor::close);
            requests.forEach(r -> r.values().forEach(Tensor::close));
        }
    }

    @Test
    void aSequenceOutputThatDoesNotFollowTheLongestLengthCannotBeSplit() {
        List<Map<String, Tensor>> requests = List.of(request(new long[] { 1, 2, 3 }), request(new long[] { 4 }));
        try (Tensor hidden = Tensor.allocate(DType.F32, 2, 5, 2)) {
            TensorException e = assertThrows(TensorException.class,
                    () -> Batches.split("m", Map.of("hidden", hidden), requests, TEXT, TensorAllocator.offHeap()));
            assertEquals("Output 'hidden' of model 'm' is " + hidden + " for a batch padded to 3: its dimension 1 does"
                    + " not follow the sequence", e.getMessage());
        } finally {
            requests.forEach(r -> r.values().forEach(Tensor::close));
        }
    }

    @Test
    void onlyRequestsWhosePaddedInputsShareALengthInOneBucketStack() {
        Padding buckets = Padding.text(0, Set.of("input_ids", "attention_mask"), Set.of(), 4);
        Map<String, Tensor> three = request(new long[] { 1, 2, 3 });
        Map<String, Tensor> four = request(new long[] { 1, 2, 3, 4 });
        Map<String, Tensor> five = request(new long[] { 1, 2, 3, 4, 5 });
        Map<String, Tensor> ragged = new LinkedHashMap<>();
        ragged.put("input_ids", Tensor.of(new long[] { 1, 2 }, 1, 2));
        ragged.put("attention_mask", Tensor.of(new long[] { 1, 1, 1 }, 1, 3));
        try {
            assertTrue(buckets.stacks(three, four), "3 and 4 share the bucket [1, 4]");
            assertFalse(buckets.stacks(four, five), "5 is in the next bucket");
            assertTrue(TEXT.stacks(four, five), "without buckets any lengths stack");
            assertEquals(-1, TEXT.length(ragged), "ids and mask of different lengths: the request runs alone");
            assertFalse(TEXT.stacks(three, ragged));
        } finally {
            for (Map<String, Tensor> r : List.of(three, four, five, ragged)) {
                r.values().forEach(Tensor::close);
            }
        }
    }

    @Test
    void padsFloatsAndOtherDimensions() {
        Padding padding = new Padding(Map.of("x", -1.5), 2, Set.of(), 0);
        List<Map<String, Tensor>> requests = new ArrayList<>();
        requests.add(Map.of("x", Tensor.of(new float[] { 1, 2, 3, 4 }, 1, 2, 2)));
        requests.add(Map.of("x", Tensor.of(new float[] { 5, 6, 7, 8, 9, 10 }, 1, 2, 3)));
        Map<String, Tensor> stacked = Batches.stack(requests, padding, TensorAllocator.offHeap());
        try {
            assertArrayEquals(new float[] { 1, 2, -1.5f, 3, 4, -1.5f, 5, 6, 7, 8, 9, 10 }, stacked.get("x").toFloatArray());
        } finally {
            stacked.values().forEach(Tensor::close);
            requests.forEach(r -> r.values().forEach(Tensor::close));
        }
    }

    @Test
    void aBatchHoldsNoMorePaddingThanRealPositions() {
        assertTrue(Padding.worthPadding(4, 10, 20), "40 positions for 20 real ones");
        assertFalse(Padding.worthPadding(32, 4096, 4096 + 31), "one long text does not make 31 short ones 32 times larger");
        assertFalse(Padding.worthPadding(Long.MAX_VALUE / 2, 4, Long.MAX_VALUE / 4), "no overflow");
    }

    @Test
    void anOutputThatMayFollowTheSequenceUnsaidCannotBeSplit() {
        Padding unsaid = Padding.text(0, Set.of("input_ids", "attention_mask"), Set.of(), 0);
        List<Map<String, Tensor>> requests = List.of(request(new long[] { 1, 2, 3 }), request(new long[] { 4 }));
        try (Tensor hidden = Tensor.allocate(DType.F32, 2, 3, 2)) {
            TensorException e = assertThrows(TensorException.class,
                    () -> Batches.split("m", Map.of("hidden", hidden), requests, unsaid, TensorAllocator.offHeap()));
            assertEquals("Output 'hidden' of model 'm' is " + hidden + " for a batch padded to 3: its dimension 1 may"
                    + " follow the sequence, but the padding does not name it among the outputs that do", e.getMessage());
        }
        try (Tensor logits = Tensor.allocate(DType.F32, 2, 3)) {
            List<Map<String, Tensor>> parts = Batches.split("m", Map.of("logits", logits), requests, unsaid,
                    TensorAllocator.offHeap());
            parts.forEach(part -> part.values().forEach(Tensor::close));
            assertEquals(2, parts.size(), "[batch, 3 labels] beside texts of up to 3 tokens is split by rows");
        } finally {
            requests.forEach(r -> r.values().forEach(Tensor::close));
        }
    }

    @Test
    void aPaddingNamesWhatTheModelHasAndValuesItsInputsHold() {
        List<io.quarkiverse.modelsharing.tensor.TensorSpec> inputs = List.of(
                new io.quarkiverse.modelsharing.tensor.TensorSpec("ids", DType.I8, new long[] { -1, -1 }),
                new io.quarkiverse.modelsharing.tensor.TensorSpec("flat", DType.I64, new long[] { -1 }));
        List<io.quarkiverse.modelsharing.tensor.TensorSpec> outputs = List.of(
                new io.quarkiverse.modelsharing.tensor.TensorSpec("y", DType.F32, new long[] { -1, -1 }));
        assertEquals("Model 'm' pads input 'ids' (I8) with 300, which that dtype cannot hold", assertThrows(
                TensorException.class, () -> new Padding(Map.of("ids", 300.0), 1, Set.of(), 0).checkAgainst("m", inputs,
                        outputs))
                .getMessage());
        assertEquals("Model 'm' pads input 'ids' (I8) with 0.5, which that dtype cannot hold", assertThrows(
                TensorException.class, () -> new Padding(Map.of("ids", 0.5), 1, Set.of(), 0).checkAgainst("m", inputs,
                        outputs))
                .getMessage());
        assertEquals("Model 'm' pads input 'gone', which it does not have; its inputs are [flat, ids]", assertThrows(
                TensorException.class, () -> new Padding(Map.of("gone", 0.0), 1, Set.of(), 0).checkAgainst("m", inputs,
                        outputs))
                .getMessage());
        assertTrue(assertThrows(TensorException.class, () -> new Padding(Map.of("flat", 0.0), 1, Set.of(), 0)
                .checkAgainst("m", inputs, outputs)).getMessage().startsWith("Model 'm' pads input 'flat' along dimension 1,"
                        + " but the input is "));
        assertEquals("Model 'm' has output 'z' follow the padded sequence, but it has no such output; its outputs are [y]",
                assertThrows(TensorException.class, () -> new Padding(Map.of("ids", 0.0), 1, Set.of("z"), 0)
                        .checkAgainst("m", inputs, outputs)).getMessage());
        new Padding(Map.of("ids", -128.0), 1, Set.of("y"), 0).checkAgainst("m", inputs, outputs);
        assertEquals("'ids,v2' cannot be padded or followed: a tensor name in a padding is not empty and has no ',', ';'"
                + " or '='",
                assertThrows(IllegalArgumentException.class,
                        () -> new Padding(Map.of("ids,v2", 0.0), 1, Set.of(), 0)).getMessage());
    }

    @Test
    void readsBackTheTextItWritesAndNamesWhatIsWrong() {
        Padding padding = new Padding(Map.of("input_ids", 0.0, "mask", 0.5), 1, Set.of("hidden"), 16);
        assertEquals(padding, Padding.parse(padding.toString()));
        assertEquals("attention_mask=0,input_ids=7;dimension=1;outputs=hidden;bucket=0", TEXT.toString());
        assertEquals("padding 'x' is not <input>=<value>,...;dimension=<n>;outputs=<output>,...;bucket=<n>",
                assertThrows(IllegalArgumentException.class, () -> Padding.parse("x")).getMessage());
        assertEquals("padding 'a=b;dimension=1;outputs=;bucket=0': the pad value of 'a' is not a number",
                assertThrows(IllegalArgumentException.class, () -> Padding.parse("a=b;dimension=1;outputs=;bucket=0"))
                        .getMessage());
        assertEquals("the padded dimension is 0; it must be at least 1, as dimension 0 is the batch",
                assertThrows(IllegalArgumentException.class, () -> Padding.parse("a=1;dimension=0;outputs=;bucket=0"))
                        .getMessage());
    }
}
