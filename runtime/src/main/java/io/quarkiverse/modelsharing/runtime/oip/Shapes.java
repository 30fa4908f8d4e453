package io.quarkiverse.modelsharing.runtime.oip;

import java.util.Arrays;

/** A tensor's shape as a request gives it, checked the same way by the protocol's REST and gRPC front ends. */
public final class Shapes {

    private Shapes() {
    }

    /**
     * The element count of the shape.
     *
     * @param what the tensor, for the message: {@code input 'x'}
     * @throws InferenceProtocolException (400) for a negative dimension or a count past a long
     */
    public static long elementCount(long[] shape, String what) {
        long count = 1;
        for (long dim : shape) {
            if (dim < 0) {
                throw InferenceProtocolException.badRequest("The " + what + " has shape " + Arrays.toString(shape)
                        + ": a dimension is 0 or more");
            }
            try {
                count = Math.multiplyExact(count, dim);
            } catch (ArithmeticException e) {
                throw InferenceProtocolException.badRequest("The " + what + " has shape " + Arrays.toString(shape)
                        + ", too many elements");
            }
        }
        return count;
    }
}
