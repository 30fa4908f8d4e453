package io.quarkiverse.modelsharing.runtime.eventbus;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.shm.SharedMemoryException;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.vertx.core.buffer.Buffer;

/** The codec's wire forms: a descriptor with shared memory, the bytes without; a foreign host fails clearly. */
class TensorMessageCodecTest {

    final TensorMessageCodec codec = new TensorMessageCodec();

    @AfterEach
    void reset() {
        TensorMessageCodec.configure(TensorAllocator.offHeap(), Duration.ofSeconds(30));
    }

    @Test
    void withoutSharedMemoryTheBytesTravelInline() {
        TensorMessageCodec.configure(TensorAllocator.offHeap(), Duration.ofSeconds(30));
        Buffer wire = Buffer.buffer();
        try (Tensor tensor = Tensor.of(new float[] { 1, 2, 3, 4 }, 2, 2)) {
            codec.encodeToWire(wire, tensor);
        }
        assertEquals(TensorMessageCodec.INLINE, wire.getByte(0));
        try (Tensor received = codec.decodeFromWire(0, wire)) {
            assertArrayEquals(new float[] { 1, 2, 3, 4 }, received.toFloatArray());
            assertArrayEquals(new long[] { 2, 2 }, received.shape());
            assertTrue(received.isReadOnly());
        }
    }

    @Test
    void aDescriptorFromAnotherHostFailsClearly() throws Exception {
        Path here = Files.createDirectory(Path.of("/dev/shm", "qms-codec-here-" + UUID.randomUUID()));
        Path elsewhere = Files.createDirectory(Path.of("/dev/shm", "qms-codec-elsewhere-" + UUID.randomUUID()));
        try (SharedMemoryPool sender = SharedMemoryPool.open(new SharedMemorySettings(here, 1 << 20, 4 << 20,
                Duration.ofSeconds(1), true));
                SharedMemoryPool receiver = SharedMemoryPool.open(new SharedMemorySettings(elsewhere, 1 << 20, 4 << 20,
                        Duration.ofSeconds(1), true))) {
            Buffer wire = Buffer.buffer();
            TensorMessageCodec.configure(sender, Duration.ofMillis(200));
            try (Tensor tensor = Tensor.of(new float[] { 5, 6 })) {
                codec.encodeToWire(wire, tensor); // an off-heap tensor is copied into the pool for the wire
            }
            assertEquals(TensorMessageCodec.DESCRIPTOR, wire.getByte(0));
            try (Tensor same = codec.decodeFromWire(0, wire)) {
                assertEquals(StorageKind.SHARED, same.storageKind());
                assertArrayEquals(new float[] { 5, 6 }, same.toFloatArray());
            }
            TensorMessageCodec.configure(receiver, Duration.ofSeconds(30));
            SharedMemoryException e = assertThrows(SharedMemoryException.class, () -> codec.decodeFromWire(0, wire));
            assertTrue(e.getMessage().contains("the tensor lives on another host"), e.getMessage());
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (sender.usedBytes() > 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(0, sender.usedBytes(), "the wire copy is released after the hold");
        } finally {
            ClusteredEventBusTest.deleteTree(here);
            ClusteredEventBusTest.deleteTree(elsewhere);
        }
    }

    @Test
    void memfdPoolsSendTheBytesOnTheWire() {
        try (SharedMemoryPool pool = SharedMemoryPool.open(new SharedMemorySettings(Path.of("/dev/shm"), 1 << 20,
                4 << 20, Duration.ofSeconds(1)));
                Tensor tensor = pool.allocate(io.quarkiverse.modelsharing.tensor.DType.F32, 2)) {
            tensor.copyFrom(new float[] { 7, 8 });
            TensorMessageCodec.configure(pool, Duration.ofSeconds(30));
            Buffer wire = Buffer.buffer();
            codec.encodeToWire(wire, tensor);
            assertEquals(TensorMessageCodec.INLINE, wire.getByte(0), "no other JVM could open a memfd pool's descriptor");
            try (Tensor received = codec.decodeFromWire(0, wire)) {
                assertArrayEquals(new float[] { 7, 8 }, received.toFloatArray());
            }
            assertEquals(64 + 64, pool.usedBytes(), "nothing was copied into the pool for the wire");
        }
    }
}
