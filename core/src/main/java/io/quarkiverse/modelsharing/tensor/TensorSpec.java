package io.quarkiverse.modelsharing.tensor;

import java.util.Arrays;

/**
 * What a model expects of one input or promises of one output: a name, an element type and a shape in which
 * {@code -1} marks a dimension that the model leaves free (a batch or sequence length).
 */
public record TensorSpec(String name, DType dtype, long[] shape) {

    public TensorSpec {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Whether a tensor of this dtype and shape fits the spec. */
    public boolean accepts(DType type, long[] dims) {
        if (type != dtype || dims.length != shape.length) {
            return false;
        }
        for (int axis = 0; axis < dims.length; axis++) {
            if (shape[axis] >= 0 && shape[axis] != dims[axis]) {
                return false;
            }
        }
        return true;
    }

    /** The spec as a user reads it, e.g. {@code input_ids: I64[?, ?]}. */
    @Override
    public String toString() {
        StringBuilder text = new StringBuilder(name).append(": ").append(dtype).append('[');
        for (int axis = 0; axis < shape.length; axis++) {
            text.append(axis == 0 ? "" : ", ").append(shape[axis] < 0 ? "?" : String.valueOf(shape[axis]));
        }
        return text.append(']').toString();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof TensorSpec that && name.equals(that.name) && dtype == that.dtype
                && Arrays.equals(shape, that.shape);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * name.hashCode() + dtype.hashCode()) + Arrays.hashCode(shape);
    }
}
