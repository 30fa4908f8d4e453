package io.quarkiverse.modelsharing.onnx;

import java.util.List;

import io.quarkiverse.modelsharing.tensor.DType;

/** Small ONNX models built in code for the tests. */
public final class TinyModels {

    /** W in y = x·W + b, for x of shape [batch, 4]. */
    public static final float[] WEIGHTS = { 1, 0, 0, 1, 1, 1, 2, -1 };
    public static final float[] BIAS = { 0.5f, -0.5f };

    private TinyModels() {
    }

    /** y = x·W + b: input x F32[?, 4], output y F32[?, 2]. */
    public static byte[] affine() {
        return affine(BIAS);
    }

    /** {@code y = x} of any dtype, shape [-1, 3]: what a protocol's tensors of that dtype come back as. */
    public static byte[] identity(DType dtype) {
        return OnnxModelBuilder.create("identity").input("x", dtype, -1, 3).output("y", dtype, -1, 3)
                .node("Identity", List.of("x"), List.of("y")).build();
    }

    /** The affine model with another bias, to tell two versions of a model apart. */
    public static byte[] affine(float[] bias) {
        return OnnxModelBuilder.create("affine")
                .input("x", DType.F32, -1, 4)
                .initializer("w", WEIGHTS, 4, 2)
                .initializer("b", bias, 2)
                .node("MatMul", List.of("x", "w"), List.of("xw"))
                .node("Add", List.of("xw", "b"), List.of("y"))
                .output("y", DType.F32, -1, 2)
                .build();
    }

    /** What {@link #affine()} computes for one row, in plain Java. */
    public static float[] expectedAffine(float[] row, float[] bias) {
        float[] out = bias.clone();
        for (int i = 0; i < 4; i++) {
            out[0] += row[i] * WEIGHTS[i * 2];
            out[1] += row[i] * WEIGHTS[i * 2 + 1];
        }
        return out;
    }

    /**
     * y = x·W·W·…·W ({@code repeats} products of {@code size}×{@code size} matrices): a model that takes long
     * enough to run that a test can act while it runs.
     */
    public static byte[] slow(int size, int repeats) {
        float[] identity = new float[size * size];
        for (int i = 0; i < size; i++) {
            identity[i * size + i] = 1;
        }
        OnnxModelBuilder model = OnnxModelBuilder.create("slow")
                .input("x", DType.F32, size, size)
                .initializer("w", identity, size, size);
        String previous = "x";
        for (int r = 0; r < repeats; r++) {
            String next = r == repeats - 1 ? "y" : "h" + r;
            model.node("MatMul", List.of(previous, "w"), List.of(next));
            previous = next;
        }
        return model.output("y", DType.F32, size, size).build();
    }

    /** z = a + b for I64 tensors of shape [?]: two inputs of another dtype. */
    public static byte[] addInt64() {
        return OnnxModelBuilder.create("add")
                .input("a", DType.I64, -1)
                .input("b", DType.I64, -1)
                .node("Add", List.of("a", "b"), List.of("z"))
                .output("z", DType.I64, -1)
                .build();
    }

    /** y = reshape(x, shape): x F32[6], shape I64[2], y F32[?, ?] whose shape is the value of the input {@code shape}. */
    public static byte[] reshape() {
        return OnnxModelBuilder.create("reshape")
                .input("x", DType.F32, 6)
                .input("shape", DType.I64, 2)
                .node("Reshape", List.of("x", "shape"), List.of("y"))
                .output("y", DType.F32, -1, -1)
                .build();
    }

    /** i = the indices of x's non-zero elements: x F32[?], i I64[1, n] for n non-zeros, so n depends on x's values. */
    public static byte[] nonZero() {
        return OnnxModelBuilder.create("nonzero")
                .input("x", DType.F32, -1)
                .node("NonZero", List.of("x"), List.of("i"))
                .output("i", DType.I64, 1, -1)
                .build();
    }

    /** The tiny text encoder's vocabulary (BERT's, so that a real tokenizer's ids fit) and width. */
    public static final int VOCABULARY = 30522;
    public static final int WIDTH = 4;

    /** Row {@code id} of the tiny encoder's token embeddings: fixed, distinct values. */
    public static float tokenEmbedding(long id, int d) {
        return (float) Math.sin(id * 0.37 + d * 1.3);
    }

    /** Row {@code type} of the tiny encoder's token-type embeddings. */
    public static float typeEmbedding(long type, int d) {
        return type == 0 ? 0 : 0.25f * (d + 1);
    }

    /** The tiny scorer's and classifier's weights, {@code WIDTH} by {@code labels}. */
    public static float headWeight(int d, int label) {
        return (float) Math.cos(d * 0.9 + label * 2.1);
    }

    /**
     * A text encoder in miniature, shaped and masked like BERT: inputs {@code input_ids}, {@code attention_mask},
     * {@code token_type_ids} I64[?, ?]; output {@code last_hidden_state} F32[?, ?, 4] where each token's vector is
     * tanh(token + type + the masked mean of the row's token + type vectors), so that every real token depends on every
     * other real token of its text and on no padded one. With {@code labels} > 0 it is a classifier (or, with 1, a
     * cross-encoder) instead: output {@code logits} F32[?, labels], the masked mean of those vectors times a weight.
     */
    public static byte[] textEncoder(int labels) {
        float[] tokens = new float[VOCABULARY * WIDTH];
        for (int id = 0; id < VOCABULARY; id++) {
            for (int d = 0; d < WIDTH; d++) {
                tokens[id * WIDTH + d] = tokenEmbedding(id, d);
            }
        }
        float[] types = new float[2 * WIDTH];
        for (int type = 0; type < 2; type++) {
            for (int d = 0; d < WIDTH; d++) {
                types[type * WIDTH + d] = typeEmbedding(type, d);
            }
        }
        OnnxModelBuilder model = OnnxModelBuilder.create(labels == 0 ? "tiny-encoder" : "tiny-head")
                .input("input_ids", DType.I64, -1, -1)
                .input("attention_mask", DType.I64, -1, -1)
                .input("token_type_ids", DType.I64, -1, -1)
                .initializer("tokens", tokens, VOCABULARY, WIDTH)
                .initializer("types", types, 2, WIDTH)
                .initializer("axis2", new long[] { 2 }, 1)
                .initializer("axis1", new long[] { 1 }, 1)
                .node("Gather", List.of("tokens", "input_ids"), List.of("e"))
                .node("Gather", List.of("types", "token_type_ids"), List.of("t"))
                .node("Add", List.of("e", "t"), List.of("h"))
                .node("Cast", List.of("attention_mask"), List.of("mf"), java.util.Map.of("to", 1L))
                .node("Unsqueeze", List.of("mf", "axis2"), List.of("mu"))
                .node("Mul", List.of("h", "mu"), List.of("hm"))
                .node("ReduceSum", List.of("hm", "axis1"), List.of("sum"), java.util.Map.of("keepdims", 1L))
                .node("ReduceSum", List.of("mu", "axis1"), List.of("count"), java.util.Map.of("keepdims", 1L))
                .node("Div", List.of("sum", "count"), List.of("context"))
                .node("Add", List.of("h", "context"), List.of("hc"))
                .node("Tanh", List.of("hc"), List.of(labels == 0 ? "last_hidden_state" : "hidden"));
        if (labels == 0) {
            return model.output("last_hidden_state", DType.F32, -1, -1, WIDTH).build();
        }
        float[] head = new float[WIDTH * labels];
        for (int d = 0; d < WIDTH; d++) {
            for (int label = 0; label < labels; label++) {
                head[d * labels + label] = headWeight(d, label);
            }
        }
        return model.initializer("head", head, WIDTH, labels)
                .node("Mul", List.of("hidden", "mu"), List.of("hidden_masked"))
                .node("ReduceSum", List.of("hidden_masked", "axis1"), List.of("pooled_sum"), java.util.Map.of("keepdims", 0L))
                .node("ReduceSum", List.of("mu", "axis1"), List.of("pooled_count"), java.util.Map.of("keepdims", 0L))
                .node("Div", List.of("pooled_sum", "pooled_count"), List.of("pooled"))
                .node("MatMul", List.of("pooled", "head"), List.of("logits"))
                .output("logits", DType.F32, -1, labels)
                .build();
    }

    /** What {@link #textEncoder} computes for one text's tokens (no padding), in plain Java: [tokens][WIDTH]. */
    public static float[][] expectedHidden(long[] ids, long[] types) {
        int n = ids.length;
        float[][] h = new float[n][WIDTH];
        float[] context = new float[WIDTH];
        for (int t = 0; t < n; t++) {
            for (int d = 0; d < WIDTH; d++) {
                h[t][d] = tokenEmbedding(ids[t], d) + typeEmbedding(types[t], d);
                context[d] += h[t][d] / n;
            }
        }
        float[][] out = new float[n][WIDTH];
        for (int t = 0; t < n; t++) {
            for (int d = 0; d < WIDTH; d++) {
                out[t][d] = (float) Math.tanh(h[t][d] + context[d]);
            }
        }
        return out;
    }

    /** What {@link #textEncoder} with {@code labels} computes for one text's tokens, in plain Java. */
    public static float[] expectedLogits(long[] ids, long[] types, int labels) {
        float[][] hidden = expectedHidden(ids, types);
        float[] logits = new float[labels];
        for (int label = 0; label < labels; label++) {
            for (int d = 0; d < WIDTH; d++) {
                float mean = 0;
                for (float[] token : hidden) {
                    mean += token[d] / hidden.length;
                }
                logits[label] += mean * headWeight(d, label);
            }
        }
        return logits;
    }
}
