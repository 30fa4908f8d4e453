package io.quarkiverse.modelsharing.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

class TensorTest {

    @Test
    void holdsShapeStridesAndElementsOffHeap() {
        try (Tensor t = Tensor.of(new float[] { 1, 2, 3, 4, 5, 6 }, 2, 3)) {
            assertEquals(DType.F32, t.dtype());
            assertArrayEquals(new long[] { 2, 3 }, t.shape());
            assertArrayEquals(new long[] { 3, 1 }, t.strides());
            assertEquals(6, t.elementCount());
            try (Tensor zeros = Tensor.allocate(DType.F32, 2, 3)) {
                assertArrayEquals(new float[6], zeros.toFloatArray(), "allocate zero-fills");
            }
            assertEquals(24, t.byteSize());
            assertEquals(StorageKind.OFF_HEAP, t.storageKind());
            assertEquals(6f, t.getFloat(t.index(1, 2)));
            assertEquals(0, t.segment().address() % 64, "off-heap tensors start on a cache line");
            assertEquals(ByteOrder.nativeOrder(), t.directBuffer().order());
            t.setFloat(t.index(0, 1), 9f);
            assertArrayEquals(new float[] { 1, 9, 3, 4, 5, 6 }, t.toFloatArray());
        }
    }

    @Test
    void everyDtypeReadsBackWhatWasWritten() {
        try (Tensor f64 = Tensor.allocate(DType.F64, 2);
                Tensor i32 = Tensor.allocateHeap(DType.I32, 2);
                Tensor i64 = Tensor.allocate(DType.I64, 2);
                Tensor i8 = Tensor.allocate(DType.I8, 2);
                Tensor u8 = Tensor.allocate(DType.U8, 2);
                Tensor bool = Tensor.allocate(DType.BOOL, 2);
                Tensor f16 = Tensor.allocate(DType.F16, 2);
                Tensor bf16 = Tensor.allocate(DType.BF16, 2)) {
            f64.setDouble(1, Math.PI);
            i32.setInt(1, -7);
            i64.setLong(1, Long.MIN_VALUE);
            i8.setByte(1, (byte) -3);
            u8.setByte(1, (byte) 250);
            bool.setBoolean(1, true);
            f16.setFloat(1, 1.5f);
            bf16.setFloat(1, -2.75f);
            assertEquals(Math.PI, f64.getDouble(1));
            assertEquals(-7, i32.getInt(1));
            assertEquals(StorageKind.HEAP, i32.storageKind());
            assertEquals(Long.MIN_VALUE, i64.getLong(1));
            assertEquals(-3, i8.getByte(1));
            assertEquals(250, u8.getByte(1) & 0xFF);
            assertTrue(bool.getBoolean(1));
            assertFalse(bool.getBoolean(0));
            assertEquals(1.5f, f16.getFloat(1));
            assertEquals(-2.75f, bf16.getFloat(1));
            assertEquals(2, f16.byteSize() / 2);
        }
    }

    @Test
    void bfloat16RoundsToNearestEven() {
        try (Tensor t = Tensor.allocate(DType.BF16, 1)) {
            t.setFloat(0, 1.00390625f); // halfway between two bf16 values: rounds to the even one, 1.0
            assertEquals(1.0f, t.getFloat(0));
            t.setFloat(0, Float.NaN);
            assertTrue(Float.isNaN(t.getFloat(0)));
        }
    }

    @Test
    void wrongAccessorNamesBothTypes() {
        try (Tensor t = Tensor.of(new long[] { 1, 2 })) {
            TensorException e = assertThrows(TensorException.class, () -> t.getFloat(0));
            assertEquals("getFloat reads F32, F16 or BF16 tensors; this is Tensor[I64 [2] off-heap]", e.getMessage());
            e = assertThrows(TensorException.class, () -> t.toIntArray());
            assertEquals("toIntArray reads I32 tensors; this is Tensor[I64 [2] off-heap]", e.getMessage());
        }
    }

    @Test
    void indexAndShapeErrorsSayWhatIsWrong() {
        try (Tensor t = Tensor.allocate(DType.F32, 2, 3)) {
            assertEquals("coordinate 3 is outside dimension 1 of Tensor[F32 [2, 3] off-heap]",
                    assertThrows(TensorException.class, () -> t.index(0, 3)).getMessage());
            assertEquals("Tensor[F32 [2, 3] off-heap] has rank 2, 1 coordinates were given",
                    assertThrows(TensorException.class, () -> t.index(0)).getMessage());
            assertEquals("index 6 is outside Tensor[F32 [2, 3] off-heap] (6 elements)",
                    assertThrows(TensorException.class, () -> t.getFloat(6)).getMessage());
            assertEquals("Tensor[F32 [2, 3] off-heap] has 6 elements; 2 were given",
                    assertThrows(TensorException.class, () -> t.copyFrom(new float[2])).getMessage());
        }
        assertEquals("shape [2, 2] holds 4 elements; 3 were given",
                assertThrows(TensorException.class, () -> Tensor.of(new float[3], 2, 2)).getMessage());
        assertEquals("shape [-1] has a negative dimension",
                assertThrows(TensorException.class, () -> Tensor.allocate(DType.F32, -1)).getMessage());
    }

    @Test
    void readOnlyViewSharesMemoryAndRefusesWrites() {
        try (Tensor t = Tensor.of(new float[] { 1, 2 }); Tensor view = t.asReadOnly()) {
            t.setFloat(0, 5);
            assertEquals(5f, view.getFloat(0), "the view reads the same memory");
            TensorException e = assertThrows(TensorException.class, () -> view.setFloat(0, 1));
            assertEquals("Tensor[F32 [2] off-heap read-only] is a read-only view: write into the tensor that produced it",
                    e.getMessage());
            assertThrows(TensorException.class, () -> view.copyFrom(new float[2]));
            assertThrows(IllegalArgumentException.class,
                    () -> view.segment().set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0, (byte) 1),
                    "the segment handed out is read-only too");
            try (Tensor retained = view.retain()) {
                assertTrue(retained.isReadOnly(), "retaining a read-only view keeps it read-only");
            }
        }
    }

    @Test
    void memoryLivesUntilTheLastReferenceCloses() {
        Tensor t = Tensor.of(new float[] { 1, 2, 3, 4 }, 2, 2);
        Tensor retained = t.retain();
        Tensor row = t.slice(1, 2);
        Tensor flat = t.reshape(4);
        t.close();
        t.close(); // idempotent: one reference, released once
        assertEquals(4f, retained.getFloat(3));
        assertArrayEquals(new float[] { 3, 4 }, row.toFloatArray());
        assertArrayEquals(new long[] { 1, 2 }, row.shape());
        assertEquals(2f, flat.getFloat(1));
        retained.close();
        row.close();
        assertFalse(flat.isFreed(), "one reference (flat) is still open");
        flat.close();
        assertTrue(flat.isFreed(), "the last close freed the memory");
        TensorException e = assertThrows(TensorException.class, () -> flat.getFloat(0));
        assertEquals("Tensor[F32 [4] off-heap closed] is closed: retain() a tensor that must outlive its producer",
                e.getMessage());
        assertThrows(TensorException.class, t::retain);
    }

    @Test
    void aTrackedReferenceThatIsNeverClosedIsReportedAndReleased() throws Exception {
        java.util.List<String> leaks = new java.util.concurrent.CopyOnWriteArrayList<>();
        Tensor producer = Tensor.of(new float[] { 1, 2, 3 });
        Tensor tracked = producer.retainTracked("received on address 'embeddings'", leaks::add);
        assertTrue(tracked.isReadOnly());
        tracked.close();
        Tensor forgotten = producer.retainTracked("received on address 'embeddings'", leaks::add);
        forgotten = null;
        producer.close();
        assertFalse(producer.isFreed(), "the forgotten reference still holds the memory");
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (leaks.isEmpty() && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(20);
        }
        assertEquals(java.util.List.of("F32[3] received on address 'embeddings'"), leaks,
                "only the forgotten one is reported");
        assertTrue(producer.isFreed(), "and its memory was released");
    }

    @Test
    void reshapeAndSliceCheckTheirArguments() {
        try (Tensor t = Tensor.allocate(DType.I32, 2, 3)) {
            assertEquals("cannot reshape Tensor[I32 [2, 3] off-heap] to [4]: it has 6 elements, the new shape 4",
                    assertThrows(TensorException.class, () -> t.reshape(4)).getMessage());
            assertEquals("cannot slice rows [1, 3) of Tensor[I32 [2, 3] off-heap]",
                    assertThrows(TensorException.class, () -> t.slice(1, 3)).getMessage());
        }
    }

    @Test
    void wrapBorrowsMemoryWithoutFreeingIt() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment segment = arena.allocate(16);
            Tensor t = Tensor.wrap(segment, DType.I64, 2);
            t.setLong(1, 42);
            t.close();
            assertTrue(segment.scope().isAlive());
            assertEquals(42L, segment.getAtIndex(java.lang.foreign.ValueLayout.JAVA_LONG, 1));
            assertEquals("a I64 tensor of shape [3] needs 24 bytes, the segment has 16",
                    assertThrows(TensorException.class, () -> Tensor.wrap(segment, DType.I64, 3)).getMessage());
        }
    }

    @Test
    void heapTensorHasNoDirectBuffer() {
        try (Tensor t = Tensor.allocateHeap(DType.F32, 2)) {
            assertEquals("a heap tensor has no direct buffer; allocate it with Tensor.allocate",
                    assertThrows(TensorException.class, t::directBuffer).getMessage());
        }
    }

    @Test
    void copiesBetweenStorages() {
        try (Tensor heap = Tensor.allocateHeap(DType.F32, 3); Tensor off = Tensor.of(new float[] { 1, 2, 3 })) {
            heap.copyFrom(off);
            assertArrayEquals(new float[] { 1, 2, 3 }, heap.toFloatArray());
            try (Tensor ints = Tensor.allocate(DType.I32, 3)) {
                assertThrows(TensorException.class, () -> ints.copyFrom(off));
            }
        }
    }

    @Test
    void unsupportedOnnxTypeListsTheSupportedOnes() {
        TensorException e = assertThrows(TensorException.class, () -> DType.fromOnnxCode(8));
        assertTrue(e.getMessage().startsWith("ONNX element type 8 is not supported; supported types are F32 (1), F16 (10)"),
                e.getMessage());
    }
}
