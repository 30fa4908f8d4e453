package io.quarkiverse.modelsharing.runtime.oip;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.math.BigInteger;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * A tensor's elements as the protocol's JSON {@code data} writes them: an array, flat or nested, in row-major order;
 * numbers, or {@code true}/{@code false} for BOOL. 16-bit floats have no JSON form here (binary data only).
 */
final class TensorData {

    private static final BigInteger UINT64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    private TensorData() {
    }

    /** Whether JSON can carry this dtype's elements. */
    static boolean hasJsonForm(DType dtype) {
        return dtype != DType.F16 && dtype != DType.BF16;
    }

    /**
     * Reads the array at the parser's current token into the tensor, every element checked against its dtype.
     *
     * @param what the tensor, for messages: {@code input 'x'}
     */
    static void decode(JsonParser parser, Tensor into, String what) throws IOException {
        if (parser.currentToken() != JsonToken.START_ARRAY) {
            throw InferenceProtocolException.badRequest("The " + what + "'s data is not an array");
        }
        DType dtype = into.dtype();
        MemorySegment memory = into.segment();
        long count = into.elementCount();
        long index = 0;
        int depth = 0;
        do {
            JsonToken token = parser.currentToken();
            if (token == JsonToken.START_ARRAY) {
                depth++;
            } else if (token == JsonToken.END_ARRAY) {
                depth--;
            } else {
                if (index == count) {
                    throw InferenceProtocolException.badRequest("The " + what + "'s data holds more than the " + count
                            + " elements of its shape");
                }
                store(parser, token, memory, index++, dtype, what);
            }
            if (depth > 0) {
                parser.nextToken();
            }
        } while (depth > 0);
        if (index != count) {
            throw InferenceProtocolException.badRequest("The " + what + "'s data holds " + index + " elements, but its"
                    + " shape holds " + count);
        }
    }

    private static void store(JsonParser parser, JsonToken token, MemorySegment memory, long index, DType dtype,
            String what) throws IOException {
        if (dtype == DType.BOOL) {
            if (token != JsonToken.VALUE_TRUE && token != JsonToken.VALUE_FALSE) {
                throw InferenceProtocolException.badRequest("The " + what + " is BOOL: its data holds " + parser.getText()
                        + ", not true or false");
            }
            memory.set(JAVA_BYTE, index, (byte) (token == JsonToken.VALUE_TRUE ? 1 : 0));
            return;
        }
        if (token != JsonToken.VALUE_NUMBER_INT && token != JsonToken.VALUE_NUMBER_FLOAT) {
            throw InferenceProtocolException.badRequest("The " + what + " is " + Datatypes.name(dtype) + ": its data holds "
                    + (token == JsonToken.START_OBJECT ? "an object" : parser.getText()) + ", not a number");
        }
        if (dtype == DType.F32) {
            memory.set(JAVA_FLOAT_UNALIGNED, index * 4, parser.getFloatValue());
            return;
        }
        if (dtype == DType.F64) {
            memory.set(JAVA_DOUBLE_UNALIGNED, index * 8, parser.getDoubleValue());
            return;
        }
        if (token != JsonToken.VALUE_NUMBER_INT) {
            throw InferenceProtocolException.badRequest("The " + what + " is " + Datatypes.name(dtype) + ": its data holds "
                    + parser.getText() + ", not an integer");
        }
        if (dtype == DType.U64) {
            BigInteger value = parser.getBigIntegerValue();
            if (value.signum() < 0 || value.compareTo(UINT64_MAX) > 0) {
                throw outOfRange(what, dtype, parser.getText());
            }
            memory.set(JAVA_LONG_UNALIGNED, index * 8, value.longValue());
            return;
        }
        if (parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
            throw outOfRange(what, dtype, parser.getText());
        }
        long value = parser.getLongValue();
        switch (dtype) {
            case I64 -> memory.set(JAVA_LONG_UNALIGNED, index * 8, value);
            case I32 -> memory.set(JAVA_INT_UNALIGNED, index * 4, (int) within(value, Integer.MIN_VALUE, Integer.MAX_VALUE,
                    what, dtype));
            case U32 -> memory.set(JAVA_INT_UNALIGNED, index * 4, (int) within(value, 0, 0xFFFF_FFFFL, what, dtype));
            case I16 -> memory.set(JAVA_SHORT_UNALIGNED, index * 2, (short) within(value, Short.MIN_VALUE, Short.MAX_VALUE,
                    what, dtype));
            case U16 -> memory.set(JAVA_SHORT_UNALIGNED, index * 2, (short) within(value, 0, 0xFFFF, what, dtype));
            case I8 -> memory.set(JAVA_BYTE, index, (byte) within(value, Byte.MIN_VALUE, Byte.MAX_VALUE, what, dtype));
            case U8 -> memory.set(JAVA_BYTE, index, (byte) within(value, 0, 0xFF, what, dtype));
            default -> throw new IllegalStateException(dtype + " has no JSON form");
        }
    }

    private static long within(long value, long min, long max, String what, DType dtype) {
        if (value < min || value > max) {
            throw outOfRange(what, dtype, Long.toString(value));
        }
        return value;
    }

    private static InferenceProtocolException outOfRange(String what, DType dtype, String value) {
        return InferenceProtocolException.badRequest("The " + what + " is " + Datatypes.name(dtype) + ": its data holds "
                + value + ", outside the range of " + Datatypes.name(dtype));
    }

    /** Writes the tensor's elements as a flat array. */
    static void encode(JsonGenerator json, Tensor tensor) throws IOException {
        DType dtype = tensor.dtype();
        MemorySegment memory = tensor.segment();
        long count = tensor.elementCount();
        json.writeStartArray();
        for (long i = 0; i < count; i++) {
            switch (dtype) {
                case F32 -> json.writeNumber(memory.get(JAVA_FLOAT_UNALIGNED, i * 4));
                case F64 -> json.writeNumber(memory.get(JAVA_DOUBLE_UNALIGNED, i * 8));
                case I64 -> json.writeNumber(memory.get(JAVA_LONG_UNALIGNED, i * 8));
                case U64 -> json.writeNumber(Long.toUnsignedString(memory.get(JAVA_LONG_UNALIGNED, i * 8)));
                case I32 -> json.writeNumber(memory.get(JAVA_INT_UNALIGNED, i * 4));
                case U32 -> json.writeNumber(Integer.toUnsignedLong(memory.get(JAVA_INT_UNALIGNED, i * 4)));
                case I16 -> json.writeNumber(memory.get(JAVA_SHORT_UNALIGNED, i * 2));
                case U16 -> json.writeNumber(Short.toUnsignedInt(memory.get(JAVA_SHORT_UNALIGNED, i * 2)));
                case I8 -> json.writeNumber(memory.get(JAVA_BYTE, i));
                case U8 -> json.writeNumber(Byte.toUnsignedInt(memory.get(JAVA_BYTE, i)));
                case BOOL -> json.writeBoolean(memory.get(JAVA_BYTE, i) != 0);
                case F16, BF16 -> throw new IllegalStateException(dtype + " has no JSON form");
            }
        }
        json.writeEndArray();
    }
}
