package io.quarkiverse.modelsharing.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.tensor.DType;

class TensorDescriptorTest {

    static final TensorDescriptor SAMPLE = new TensorDescriptor("0123456789abcdef0123456789abcdef", 7, 128, 16, 24,
            DType.F64, new long[] { 1, 3 }, true);

    @Test
    void roundTrips() {
        byte[] bytes = SAMPLE.encode();
        assertEquals(72, bytes.length);
        assertEquals(SAMPLE, TensorDescriptor.decode(bytes));
        assertEquals(0x54534D51, ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getInt(), "magic QMST");
    }

    @Test
    void malformedDescriptorsSayWhat() {
        byte[] good = SAMPLE.encode();
        assertEquals("Malformed tensor descriptor: it has 10 bytes, at least 56 are needed",
                assertThrows(SharedMemoryException.class, () -> TensorDescriptor.decode(new byte[10])).getMessage());
        byte[] badMagic = good.clone();
        badMagic[0] = 0;
        assertEquals("Malformed tensor descriptor: bad magic 0x54534d00",
                assertThrows(SharedMemoryException.class, () -> TensorDescriptor.decode(badMagic)).getMessage());
        byte[] badRank = good.clone();
        badRank[6] = 9;
        assertEquals("Malformed tensor descriptor: rank 9 is outside 0..8",
                assertThrows(SharedMemoryException.class, () -> TensorDescriptor.decode(badRank)).getMessage());
        byte[] badLength = good.clone();
        badLength[48] = 25;
        assertEquals("Malformed tensor descriptor: a F64 tensor of shape [1, 3] is 24 bytes, the descriptor says 25",
                assertThrows(SharedMemoryException.class, () -> TensorDescriptor.decode(badLength)).getMessage());
        byte[] truncated = java.util.Arrays.copyOf(good, 60);
        assertEquals("Malformed tensor descriptor: rank 2 needs 16 bytes of shape, 4 remain",
                assertThrows(SharedMemoryException.class, () -> TensorDescriptor.decode(truncated)).getMessage());
    }

    @Test
    void randomAndMutatedBytesOnlyEverFailAsMalformed() {
        Random random = new Random(7);
        byte[] good = SAMPLE.encode();
        for (int i = 0; i < 200_000; i++) {
            byte[] input;
            if (i % 2 == 0) {
                input = new byte[random.nextInt(100)];
                random.nextBytes(input);
            } else {
                input = good.clone();
                input[random.nextInt(input.length)] = (byte) random.nextInt();
            }
            try {
                TensorDescriptor decoded = TensorDescriptor.decode(input);
                assertTrue(decoded.length() >= 0 && decoded.shape().length <= 8);
            } catch (SharedMemoryException expected) {
                assertTrue(expected.getMessage().startsWith("Malformed tensor descriptor: "), expected.getMessage());
            }
        }
    }
}
