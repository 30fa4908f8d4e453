package io.quarkiverse.modelsharing.runtime.oip;

import java.util.Arrays;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * One tensor of an infer request or response as its JSON header describes it: an input with its data, binary size or
 * shared-memory region; a requested output with how to return it; or an output of a response.
 */
final class TensorEntry {

    String name;
    long[] shape;
    String datatype;
    /** {@code parameters.binary_data_size}, or -1. */
    long binaryDataSize = -1;
    /** {@code parameters.binary_data} of a requested output, or null if not given. */
    Boolean binaryData;
    String region;
    long regionByteSize = -1;
    long regionOffset;
    /** The elements, once read from JSON, binary data or a region; owned by the message until taken. */
    Tensor tensor;
    /** Where the {@code data} array lies in the header, read once the whole entry is known. */
    long dataStart = -1;
    long dataEnd = -1;

    String describe(String kind) {
        return kind + " '" + name + "'";
    }

    DType dtype(String kind) {
        return Datatypes.dtype(datatype, describe(kind));
    }

    /** The element count of the shape, checked: no negative dimension, no overflow. */
    long elementCount(String kind) {
        if (shape == null) {
            throw InferenceProtocolException.badRequest("The " + describe(kind) + " has no shape");
        }
        return Shapes.elementCount(shape, describe(kind));
    }

    /** The byte size of the shape's elements of the entry's datatype. */
    long byteSize(String kind) {
        long count = elementCount(kind);
        try {
            return Math.multiplyExact(count, dtype(kind).byteSize());
        } catch (ArithmeticException e) {
            throw InferenceProtocolException.badRequest("The " + describe(kind) + " has shape " + Arrays.toString(shape)
                    + ", too many bytes");
        }
    }
}
