package io.quarkiverse.modelsharing.onnx;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * A bounds-checked reader of the protobuf wire format over a memory segment, enough to walk an ONNX
 * {@code ModelProto} without the protobuf runtime. Every length is checked against the enclosing message before
 * it is followed; malformed input raises {@link InvalidModelException} naming the offset.
 */
final class ProtoReader {

    static final int VARINT = 0;
    static final int FIXED64 = 1;
    static final int LENGTH_DELIMITED = 2;
    static final int FIXED32 = 5;

    private final MemorySegment data;
    private final String source;
    private long position;
    private final long limit;
    private int lastTag;

    ProtoReader(MemorySegment data, String source) {
        this(data, source, 0, data.byteSize());
    }

    private ProtoReader(MemorySegment data, String source, long position, long limit) {
        this.data = data;
        this.source = source;
        this.position = position;
        this.limit = limit;
    }

    long remaining() {
        return limit - position;
    }

    boolean hasMore() {
        return position < limit;
    }

    /** Reads the next field's tag; {@link #fieldNumber()} and {@link #wireType()} describe it. */
    void nextField() {
        long tag = readVarint();
        if (tag <= 0 || tag > Integer.MAX_VALUE || (tag >>> 3) == 0) {
            throw malformed("field tag " + tag);
        }
        lastTag = (int) tag;
        int wireType = wireType();
        if (wireType != VARINT && wireType != FIXED64 && wireType != LENGTH_DELIMITED && wireType != FIXED32) {
            throw malformed("wire type " + wireType);
        }
    }

    int fieldNumber() {
        return lastTag >>> 3;
    }

    int wireType() {
        return lastTag & 7;
    }

    long readVarint() {
        long value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (position >= limit) {
                throw malformed("truncated varint");
            }
            byte b = data.get(JAVA_BYTE, position++);
            value |= (long) (b & 0x7F) << shift;
            if (b >= 0) {
                return value;
            }
        }
        throw malformed("varint longer than 10 bytes");
    }

    String readString() {
        long length = readLength();
        byte[] bytes = data.asSlice(position, length).toArray(JAVA_BYTE);
        position += length;
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** A reader over the embedded message that the current length-delimited field holds. */
    ProtoReader readMessage() {
        long length = readLength();
        ProtoReader nested = new ProtoReader(data, source, position, position + length);
        position += length;
        return nested;
    }

    /** Skips the value of the current field, whatever its wire type. */
    void skip() {
        switch (wireType()) {
            case VARINT -> readVarint();
            case FIXED64 -> advance(8);
            case FIXED32 -> advance(4);
            case LENGTH_DELIMITED -> advance(readLength());
            default -> throw malformed("wire type " + wireType());
        }
    }

    void expect(int wireType) {
        if (wireType() != wireType) {
            throw malformed("field " + fieldNumber() + " has wire type " + wireType() + ", expected " + wireType);
        }
    }

    private long readLength() {
        expect(LENGTH_DELIMITED);
        long length = readVarint();
        if (length < 0 || length > limit - position) {
            throw malformed("length " + length + " runs past the end of its message");
        }
        return length;
    }

    private void advance(long bytes) {
        if (bytes > limit - position) {
            throw malformed("field runs past the end of its message");
        }
        position += bytes;
    }

    private InvalidModelException malformed(String what) {
        return new InvalidModelException(source + " is not a valid ONNX model: malformed protobuf (" + what
                + " at byte " + position + ")");
    }
}
