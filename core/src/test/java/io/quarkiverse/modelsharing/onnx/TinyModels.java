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
}
