package io.quarkiverse.modelsharing.protocol;

import java.util.Arrays;

import io.quarkiverse.modelsharing.shm.TensorDescriptor;
import io.quarkiverse.modelsharing.tensor.DType;

/** A named tensor in a frame: a shared-memory descriptor, or its bytes inline when shared memory is unavailable. */
public sealed interface WireTensor {

    String name();

    /** A tensor that stays in shared memory; the frame carries only its descriptor. */
    record Shared(String name, TensorDescriptor descriptor) implements WireTensor {
    }

    /** A tensor whose bytes travel in the frame (the serialization fallback). */
    record Inline(String name, DType dtype, long[] shape, byte[] data) implements WireTensor {

        public Inline {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        @Override
        public boolean equals(Object other) {
            return other instanceof Inline that && name.equals(that.name) && dtype == that.dtype
                    && Arrays.equals(shape, that.shape) && Arrays.equals(data, that.data);
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + Arrays.hashCode(shape);
        }

        @Override
        public String toString() {
            return "Inline[" + name + " " + dtype + Arrays.toString(shape) + " " + data.length + " bytes]";
        }
    }
}
