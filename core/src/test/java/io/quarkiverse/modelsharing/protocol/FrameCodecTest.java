package io.quarkiverse.modelsharing.protocol;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.shm.TensorDescriptor;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

class FrameCodecTest {

    static final TensorDescriptor DESCRIPTOR = new TensorDescriptor("0123456789abcdef0123456789abcdef", 3, 64, 0, 24,
            DType.F32, new long[] { 2, 3 }, true);
    static final List<Frame> SAMPLES = List.of(
            new Frame.Hello(0, 1, Frame.SHARED_MEMORY | Frame.INLINE_TENSORS, "app-1"),
            new Frame.Welcome(0, 1, Frame.SHARED_MEMORY | Frame.BATCHING, "worker cpu #0"),
            new Frame.Load(7, "embedder"),
            new Frame.Loaded(7, "embedder", List.of(new TensorSpec("input_ids", DType.I64, new long[] { -1, -1 })),
                    List.of(new TensorSpec("last_hidden_state", DType.F32, new long[] { -1, -1, 384 }))),
            new Frame.Infer(8, "embedder", 250, List.of(new WireTensor.Shared("input_ids", DESCRIPTOR),
                    new WireTensor.Inline("mask", DType.I64, new long[] { 1, 2 }, new byte[16]))),
            new Frame.Result(8, List.of(new WireTensor.Shared("last_hidden_state", DESCRIPTOR))),
            new Frame.Error(9, Frame.ErrorCode.OVERLOADED, "queue full: 1024 requests wait for 'embedder'"),
            new Frame.Release(8),
            new Frame.Status(10),
            new Frame.StatusReply(10, Map.of("models", "embedder", "queue", "3")),
            new Frame.Heartbeat(0),
            new Frame.Cancel(11));

    final FrameCodec codec = new FrameCodec(1 << 20);

    @Test
    void everyFrameRoundTrips() {
        for (Frame frame : SAMPLES) {
            assertEquals(frame, codec.decode(codec.encode(frame)));
        }
        Frame padded = new Frame.Load(9, "minilm@1234=/models/minilm.onnx",
                "input_ids=0,attention_mask=0;dimension=1;outputs=last_hidden_state;bucket=16");
        assertEquals(padded, codec.decode(codec.encode(padded)), "a load with its padding");
        ByteBuffer infer = codec.encode(SAMPLES.get(4));
        assertEquals(FrameCodec.MAGIC, infer.order(ByteOrder.LITTLE_ENDIAN).getInt(0));
        assertEquals(8L, infer.getLong(8), "the request id multiplexes frames on one connection");
    }

    @Test
    void malformedFramesSayWhatIsWrong() {
        ByteBuffer good = codec.encode(SAMPLES.get(2));
        assertEquals("not a worker-protocol frame: magic 0x0", message(mutate(good, 0, 0, 0, 0, 0)));
        assertEquals("protocol version 5 is not supported; this side speaks 4", message(mutate(good, 4, 5)));
        assertEquals("unknown frame type 99", message(mutate(good, 5, 99)));
        assertEquals("unknown frame flags 0x1", message(mutate(good, 6, 1)));
        assertEquals("a payload of 4294967295 bytes exceeds the 1048576-byte bound",
                message(mutate(good, 16, 0xFF, 0xFF, 0xFF, 0xFF)));
        ByteBuffer truncated = good.duplicate().limit(good.limit() - 1);
        assertEquals("the header announces a 12-byte payload, 11 bytes follow it", message(truncated));
        assertEquals("a frame header is 20 bytes, 3 were given", message(ByteBuffer.allocate(3)));
        ByteBuffer shortString = mutate(good, 20, 200, 0);
        assertEquals("a string of 200 bytes exceeds the frame or the 4096-byte bound", message(shortString));
        assertEquals("A Infer frame of 2097181 bytes exceeds the 1048576-byte bound; send large tensors through shared memory",
                assertThrows(ProtocolException.class, () -> codec.encode(new Frame.Infer(1, "m", 0,
                        List.of(new WireTensor.Inline("big", DType.U8, new long[] { 2 << 20 }, new byte[2 << 20])))))
                        .getMessage());
    }

    @Test
    void aMillionRandomAndMutatedFramesOnlyEverFailAsProtocolErrors() {
        List<byte[]> valid = SAMPLES.stream().map(frame -> toArray(codec.encode(frame))).toList();
        // The first pass links every code path it reaches (invokedynamic and class loading allocate once); the
        // second, over the same million frames, holds each decode to an allocation bound.
        fuzz(valid, false);
        long[] counts = fuzz(valid, true);
        assertEquals(1_000_000, counts[0] + counts[1]);
        assertTrue(counts[0] > 0 && counts[1] > 0, "both outcomes seen: " + counts[0] + " decoded, " + counts[1] + " refused");
    }

    private long[] fuzz(List<byte[]> valid, boolean checkAllocation) {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        SplittableRandom random = new SplittableRandom(2026);
        long[] counts = new long[2];
        assertTimeoutPreemptively(Duration.ofMinutes(2), () -> {
            for (int i = 0; i < 1_000_000; i++) {
                byte[] input = i % 2 == 0 ? randomFrame(random, valid) : mutatedFrame(random, valid);
                long before = threads.getCurrentThreadAllocatedBytes();
                try {
                    codec.decode(ByteBuffer.wrap(input));
                    counts[0]++;
                } catch (ProtocolException expected) {
                    counts[1]++;
                }
                long allocated = threads.getCurrentThreadAllocatedBytes() - before;
                // Lengths inside a frame never drive an allocation past a small multiple of the frame's own size;
                // the constant covers an exception and its stack trace.
                assertTrue(!checkAllocation || allocated <= 8L * input.length + 32_768,
                        "decoding a " + input.length + "-byte frame allocated " + allocated + " bytes");
            }
        });
        return counts;
    }

    /** Random bytes, usually behind a well-formed header so that the payload decoders are exercised. */
    private static byte[] randomFrame(SplittableRandom random, List<byte[]> valid) {
        byte[] payload = new byte[random.nextInt(64)];
        random.nextBytes(payload);
        if (random.nextInt(4) == 0) {
            byte[] raw = new byte[random.nextInt(40)];
            random.nextBytes(raw);
            return raw;
        }
        ByteBuffer frame = ByteBuffer.allocate(FrameCodec.HEADER_BYTES + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        frame.putInt(FrameCodec.MAGIC).put((byte) 1).put((byte) (1 + random.nextInt(13))).putShort((short) 0)
                .putLong(random.nextLong()).putInt(payload.length).put(payload);
        return frame.array();
    }

    /** A valid frame with a few bytes changed, cut short, or extended. */
    private static byte[] mutatedFrame(SplittableRandom random, List<byte[]> valid) {
        byte[] base = valid.get(random.nextInt(valid.size()));
        byte[] frame = base.clone();
        switch (random.nextInt(3)) {
            case 0 -> {
                int flips = 1 + random.nextInt(4);
                for (int f = 0; f < flips; f++) {
                    frame[random.nextInt(frame.length)] = (byte) random.nextInt(256);
                }
            }
            case 1 -> frame = java.util.Arrays.copyOf(frame, random.nextInt(frame.length));
            default -> {
                frame = java.util.Arrays.copyOf(frame, frame.length + 1 + random.nextInt(16));
                ByteBuffer.wrap(frame).order(ByteOrder.LITTLE_ENDIAN).putInt(16, frame.length - FrameCodec.HEADER_BYTES);
            }
        }
        return frame;
    }

    private String message(ByteBuffer frame) {
        return assertThrows(ProtocolException.class, () -> codec.decode(frame)).getMessage();
    }

    private static ByteBuffer mutate(ByteBuffer frame, int at, int... bytes) {
        byte[] copy = toArray(frame);
        for (int i = 0; i < bytes.length; i++) {
            copy[at + i] = (byte) bytes[i];
        }
        return ByteBuffer.wrap(copy);
    }

    private static byte[] toArray(ByteBuffer buffer) {
        byte[] bytes = new byte[buffer.remaining()];
        buffer.duplicate().get(bytes);
        return bytes;
    }
}
