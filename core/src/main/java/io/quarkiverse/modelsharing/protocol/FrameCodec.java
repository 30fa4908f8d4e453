package io.quarkiverse.modelsharing.protocol;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import io.quarkiverse.modelsharing.shm.SharedMemoryException;
import io.quarkiverse.modelsharing.shm.TensorDescriptor;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.TensorException;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

/**
 * The worker protocol's one binary frame format, version 2, little-endian:
 *
 * <pre>
 * offset size  header
 *  0     4     magic "QMSP" (0x50534D51)
 *  4     1     protocol version (2)
 *  5     1     frame type: 1 hello, 2 welcome, 3 load, 4 loaded, 5 infer, 6 result, 7 error, 8 release,
 *              9 status, 10 status reply, 11 heartbeat, 12 cancel, 13 share pool
 *  6     2     flags (0)
 *  8     8     request id
 * 16     4     payload length, at most the codec's bound
 * 20     ...   payload, by type:
 *   hello, welcome   u8 version, u32 capabilities, string name
 *   load             string model
 *   loaded           string model, u16 count, count x spec (inputs), u16 count, count x spec (outputs)
 *   infer            string model, u32 timeout ms, u16 count, count x tensor
 *   result           u16 count, count x tensor
 *   error            u8 code, string message
 *   status reply     u16 count, count x (string name, string value)
 *   share pool       16 bytes pool id, u64 pool bytes; the pool's file descriptor comes with the frame's first byte
 *   release, status, heartbeat, cancel: empty
 * string: u16 byte length (at most 4096), UTF-8; an error message or status value past it is cut, ending in "..."
 * spec: string name, u8 dtype (ONNX code), u8 rank, rank x i64 dimension (-1: free)
 * tensor: string name, u8 kind; kind 1: u16 length + a shared-memory descriptor;
 *         kind 0 (inline): u8 dtype (ONNX code), u8 rank, rank x i64 shape, u32 byte length, the bytes
 * </pre>
 *
 * Decoding checks every length against what remains before allocating, and turns anything malformed into a
 * {@link ProtocolException} that says what and where.
 */
public final class FrameCodec {

    public static final int MAGIC = 0x50534D51;
    public static final int VERSION = 4;
    public static final int HEADER_BYTES = 20;
    public static final int MAX_STRING_BYTES = 4096;
    public static final int MAX_TENSORS = 256;
    public static final int MAX_STATUS_VALUES = 1024;
    public static final int DEFAULT_MAX_PAYLOAD = 128 << 20;

    private static final int HELLO = 1, WELCOME = 2, LOAD = 3, LOADED = 4, INFER = 5, RESULT = 6, ERROR = 7, RELEASE = 8,
            STATUS = 9, STATUS_REPLY = 10, HEARTBEAT = 11, CANCEL = 12, SHARE_POOL = 13;
    private static final int SHARED = 1, INLINE = 0;

    private final int maxPayload;

    public FrameCodec(int maxPayload) {
        this.maxPayload = maxPayload;
    }

    public FrameCodec() {
        this(DEFAULT_MAX_PAYLOAD);
    }

    public int maxPayload() {
        return maxPayload;
    }

    /** The frame, header and payload, ready to write. */
    public ByteBuffer encode(Frame frame) {
        Writer payload = new Writer();
        int type = switch (frame) {
            case Frame.Hello h -> {
                payload.u8(h.version()).u32(h.capabilities()).string(h.client());
                yield HELLO;
            }
            case Frame.Welcome w -> {
                payload.u8(w.version()).u32(w.capabilities()).string(w.worker());
                yield WELCOME;
            }
            case Frame.Load l -> {
                payload.string(l.model()).string(l.padding());
                yield LOAD;
            }
            case Frame.Loaded l -> {
                payload.string(l.model()).specs(l.inputs()).specs(l.outputs()).u8(l.batchDependent() ? 1 : 0);
                yield LOADED;
            }
            case Frame.Infer i -> {
                payload.string(i.model()).u32(i.timeoutMillis()).tensors(i.inputs());
                yield INFER;
            }
            case Frame.Result r -> {
                payload.tensors(r.outputs());
                yield RESULT;
            }
            case Frame.Error e -> {
                payload.u8(e.code().ordinal()).text(e.message());
                yield ERROR;
            }
            case Frame.Release r -> RELEASE;
            case Frame.Status s -> STATUS;
            case Frame.StatusReply s -> {
                if (s.values().size() > MAX_STATUS_VALUES) {
                    throw new ProtocolException(s.values().size() + " status values exceed the bound of "
                            + MAX_STATUS_VALUES);
                }
                payload.u16(s.values().size());
                s.values().forEach((name, value) -> payload.text(name).text(value));
                yield STATUS_REPLY;
            }
            case Frame.Heartbeat h -> HEARTBEAT;
            case Frame.Cancel c -> CANCEL;
            case Frame.SharePool p -> {
                payload.room(24).buffer.put(java.util.HexFormat.of().parseHex(p.poolId())).putLong(p.bytes());
                yield SHARE_POOL;
            }
        };
        ByteBuffer body = payload.buffer.flip();
        if (body.remaining() > maxPayload) {
            throw new ProtocolException("A " + frame.getClass().getSimpleName() + " frame of " + body.remaining()
                    + " bytes exceeds the " + maxPayload + "-byte bound; send large tensors through shared memory");
        }
        ByteBuffer out = ByteBuffer.allocate(HEADER_BYTES + body.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        out.putInt(MAGIC).put((byte) VERSION).put((byte) type).putShort((short) 0).putLong(frame.requestId())
                .putInt(body.remaining()).put(body);
        return out.flip();
    }

    /** The payload length a header announces, after checking the header. */
    public int payloadLength(ByteBuffer header) {
        ByteBuffer in = header.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (in.remaining() < HEADER_BYTES) {
            throw new ProtocolException("a frame header is " + HEADER_BYTES + " bytes, " + in.remaining() + " were given");
        }
        int magic = in.getInt();
        if (magic != MAGIC) {
            throw new ProtocolException("not a worker-protocol frame: magic 0x" + Integer.toHexString(magic));
        }
        int version = in.get() & 0xFF;
        if (version != VERSION) {
            throw new ProtocolException("protocol version " + version + " is not supported; this side speaks " + VERSION);
        }
        in.position(in.position() + 11);
        int length = in.getInt();
        if (length < 0 || length > maxPayload) {
            throw new ProtocolException("a payload of " + Integer.toUnsignedString(length) + " bytes exceeds the "
                    + maxPayload + "-byte bound");
        }
        return length;
    }

    /** Decodes one whole frame (header and payload, nothing more). */
    public Frame decode(ByteBuffer frame) {
        int length = payloadLength(frame);
        ByteBuffer in = frame.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (in.remaining() != HEADER_BYTES + length) {
            throw new ProtocolException("the header announces a " + length + "-byte payload, " + (in.remaining() - HEADER_BYTES)
                    + " bytes follow it");
        }
        in.position(in.position() + 5);
        int type = in.get() & 0xFF;
        int flags = in.getShort();
        if (flags != 0) {
            throw new ProtocolException("unknown frame flags 0x" + Integer.toHexString(flags & 0xFFFF));
        }
        long requestId = in.getLong();
        in.getInt();
        Reader payload = new Reader(in.slice().order(ByteOrder.LITTLE_ENDIAN));
        try {
            Frame decoded = switch (type) {
                case HELLO -> new Frame.Hello(requestId, payload.u8(), payload.u32(), payload.string());
                case WELCOME -> new Frame.Welcome(requestId, payload.u8(), payload.u32(), payload.string());
                case LOAD -> new Frame.Load(requestId, payload.string(), payload.string());
                case LOADED -> new Frame.Loaded(requestId, payload.string(), payload.specs(), payload.specs(),
                        payload.u8() != 0);
                case INFER -> new Frame.Infer(requestId, payload.string(), payload.u32(), payload.tensors());
                case RESULT -> new Frame.Result(requestId, payload.tensors());
                case ERROR -> new Frame.Error(requestId, payload.errorCode(), payload.string());
                case RELEASE -> new Frame.Release(requestId);
                case STATUS -> new Frame.Status(requestId);
                case STATUS_REPLY -> new Frame.StatusReply(requestId, payload.values());
                case HEARTBEAT -> new Frame.Heartbeat(requestId);
                case CANCEL -> new Frame.Cancel(requestId);
                case SHARE_POOL -> payload.sharePool(requestId);
                default -> throw new ProtocolException("unknown frame type " + type);
            };
            if (payload.in.hasRemaining()) {
                throw new ProtocolException("a frame of type " + type + " has " + payload.in.remaining()
                        + " bytes left over after its payload");
            }
            return decoded;
        } catch (BufferUnderflowException e) {
            throw new ProtocolException("a frame of type " + type + " ends in the middle of a field");
        }
    }

    private static final class Writer {
        ByteBuffer buffer = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);

        Writer room(int bytes) {
            if (buffer.remaining() < bytes) {
                ByteBuffer larger = ByteBuffer.allocate(Math.max(buffer.capacity() * 2, buffer.position() + bytes))
                        .order(ByteOrder.LITTLE_ENDIAN);
                buffer.flip();
                larger.put(buffer);
                buffer = larger;
            }
            return this;
        }

        Writer u8(int value) {
            room(1).buffer.put((byte) value);
            return this;
        }

        Writer u16(int value) {
            room(2).buffer.putShort((short) value);
            return this;
        }

        Writer u32(int value) {
            room(4).buffer.putInt(value);
            return this;
        }

        Writer string(String value) {
            byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
            if (bytes.length > MAX_STRING_BYTES) {
                throw new ProtocolException("a string of " + bytes.length + " bytes exceeds the " + MAX_STRING_BYTES
                        + "-byte bound");
            }
            room(2 + bytes.length).buffer.putShort((short) bytes.length).put(bytes);
            return this;
        }

        /**
         * A string that says something to a person (an error message, a status value): one past the bound is cut at a
         * character boundary and ends with "...", so that a long list of models never breaks a reply.
         */
        Writer text(String value) {
            byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
            if (bytes.length <= MAX_STRING_BYTES) {
                return string(value);
            }
            int end = MAX_STRING_BYTES - 3;
            while (end > 0 && (bytes[end] & 0xC0) == 0x80) {
                end--; // not in the middle of a character
            }
            return string(new String(bytes, 0, end, StandardCharsets.UTF_8) + "...");
        }

        Writer specs(List<TensorSpec> specs) {
            if (specs.size() > MAX_TENSORS) {
                throw new ProtocolException(specs.size() + " tensor specs exceed the bound of " + MAX_TENSORS);
            }
            u16(specs.size());
            for (TensorSpec spec : specs) {
                string(spec.name()).u8(spec.dtype().onnxCode()).u8(spec.shape().length);
                for (long dim : spec.shape()) {
                    room(8).buffer.putLong(dim);
                }
            }
            return this;
        }

        Writer tensors(List<WireTensor> tensors) {
            if (tensors.size() > MAX_TENSORS) {
                throw new ProtocolException(tensors.size() + " tensors exceed the bound of " + MAX_TENSORS + " per frame");
            }
            u16(tensors.size());
            for (WireTensor tensor : tensors) {
                string(tensor.name());
                switch (tensor) {
                    case WireTensor.Shared shared -> {
                        byte[] descriptor = shared.descriptor().encode();
                        u8(SHARED).u16(descriptor.length);
                        room(descriptor.length).buffer.put(descriptor);
                    }
                    case WireTensor.Inline inline -> {
                        u8(INLINE).u8(inline.dtype().onnxCode()).u8(inline.shape().length);
                        for (long dim : inline.shape()) {
                            room(8).buffer.putLong(dim);
                        }
                        u32(inline.data().length);
                        room(inline.data().length).buffer.put(inline.data());
                    }
                }
            }
            return this;
        }
    }

    private static final class Reader {
        final ByteBuffer in;

        Reader(ByteBuffer in) {
            this.in = in;
        }

        int u8() {
            return in.get() & 0xFF;
        }

        int u16() {
            return in.getShort() & 0xFFFF;
        }

        int u32() {
            return in.getInt();
        }

        String string() {
            int length = u16();
            if (length > MAX_STRING_BYTES || length > in.remaining()) {
                throw new ProtocolException("a string of " + length + " bytes exceeds the frame or the "
                        + MAX_STRING_BYTES + "-byte bound");
            }
            ByteBuffer bytes = in.slice(in.position(), length);
            in.position(in.position() + length);
            CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT);
            try {
                CharBuffer chars = utf8.decode(bytes);
                return chars.toString();
            } catch (CharacterCodingException e) {
                throw new ProtocolException("a string is not valid UTF-8");
            }
        }

        Frame.SharePool sharePool(long requestId) {
            byte[] id = new byte[16];
            in.get(id);
            long bytes = in.getLong();
            if (bytes <= 0) {
                throw new ProtocolException("a shared pool of " + bytes + " bytes");
            }
            return new Frame.SharePool(requestId, java.util.HexFormat.of().formatHex(id), bytes, -1);
        }

        Frame.ErrorCode errorCode() {
            int code = u8();
            Frame.ErrorCode[] codes = Frame.ErrorCode.values();
            if (code >= codes.length) {
                throw new ProtocolException("unknown error code " + code);
            }
            return codes[code];
        }

        Map<String, String> values() {
            int count = u16();
            if (count > MAX_STATUS_VALUES) {
                throw new ProtocolException(count + " status values exceed the bound of " + MAX_STATUS_VALUES);
            }
            Map<String, String> values = new LinkedHashMap<>();
            for (int i = 0; i < count; i++) {
                values.put(string(), string());
            }
            return values;
        }

        List<TensorSpec> specs() {
            int count = u16();
            if (count > MAX_TENSORS) {
                throw new ProtocolException(count + " tensor specs exceed the bound of " + MAX_TENSORS);
            }
            List<TensorSpec> specs = new ArrayList<>(Math.min(count, 16));
            for (int i = 0; i < count; i++) {
                String name = string();
                DType dtype;
                try {
                    dtype = DType.fromOnnxCode(u8());
                } catch (TensorException e) {
                    throw new ProtocolException("spec '" + name + "': " + e.getMessage());
                }
                int rank = u8();
                if (rank > 8 || 8L * rank > in.remaining()) {
                    throw new ProtocolException("spec '" + name + "': rank " + rank + " is over 8 or runs past the frame");
                }
                long[] shape = new long[rank];
                for (int axis = 0; axis < rank; axis++) {
                    shape[axis] = in.getLong();
                    if (shape[axis] < -1) {
                        throw new ProtocolException("spec '" + name + "': dimension " + axis + " is " + shape[axis]);
                    }
                }
                specs.add(new TensorSpec(name, dtype, shape));
            }
            return specs;
        }

        List<WireTensor> tensors() {
            int count = u16();
            if (count > MAX_TENSORS) {
                throw new ProtocolException(count + " tensors exceed the bound of " + MAX_TENSORS + " per frame");
            }
            List<WireTensor> tensors = new ArrayList<>(Math.min(count, 16));
            for (int i = 0; i < count; i++) {
                String name = string();
                int kind = u8();
                if (kind == SHARED) {
                    int length = u16();
                    if (length > in.remaining()) {
                        throw new ProtocolException("tensor '" + name + "': a descriptor of " + length
                                + " bytes runs past the frame");
                    }
                    byte[] descriptor = new byte[length];
                    in.get(descriptor);
                    try {
                        tensors.add(new WireTensor.Shared(name, TensorDescriptor.decode(descriptor)));
                    } catch (SharedMemoryException e) {
                        throw new ProtocolException("tensor '" + name + "': " + e.getMessage());
                    }
                } else if (kind == INLINE) {
                    tensors.add(inline(name));
                } else {
                    throw new ProtocolException("tensor '" + name + "' has unknown kind " + kind);
                }
            }
            return tensors;
        }

        private WireTensor.Inline inline(String name) {
            DType dtype;
            try {
                dtype = DType.fromOnnxCode(u8());
            } catch (TensorException e) {
                throw new ProtocolException("tensor '" + name + "': " + e.getMessage());
            }
            int rank = u8();
            if (rank > 8 || 8L * rank > in.remaining()) {
                throw new ProtocolException("tensor '" + name + "': rank " + rank + " is over 8 or runs past the frame");
            }
            long[] shape = new long[rank];
            long elements = 1;
            for (int axis = 0; axis < rank; axis++) {
                shape[axis] = in.getLong();
                if (shape[axis] < 0 || (shape[axis] > 0 && elements > Long.MAX_VALUE / 8 / shape[axis])) {
                    throw new ProtocolException("tensor '" + name + "': dimension " + axis + " is " + shape[axis]);
                }
                elements *= shape[axis];
            }
            long length = Integer.toUnsignedLong(u32());
            if (length != elements * dtype.byteSize() || length > in.remaining()) {
                throw new ProtocolException("tensor '" + name + "': " + length + " bytes do not match its shape or run"
                        + " past the frame");
            }
            byte[] data = new byte[(int) length];
            in.get(data);
            return new WireTensor.Inline(name, dtype, shape, data);
        }
    }
}
