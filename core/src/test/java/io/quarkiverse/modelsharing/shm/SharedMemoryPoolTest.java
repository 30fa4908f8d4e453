package io.quarkiverse.modelsharing.shm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;

class SharedMemoryPoolTest {

    static final long MIB = 1 << 20;
    final ShmTestRoot shm = new ShmTestRoot();

    @AfterEach
    void removeRoot() {
        shm.close();
    }

    @Test
    void tensorsTravelAsDescriptorsOfAFewDozenBytes() {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(MIB, 4 * MIB));
                Tensor t = pool.allocate(DType.F32, 256, 256)) {
            assertEquals(StorageKind.SHARED, t.storageKind());
            assertEquals(0, t.segment().address() % 64, "pool tensors are 64-byte aligned");
            t.setFloat(t.index(255, 255), 42f);
            TensorDescriptor descriptor = pool.describe(t);
            byte[] encoded = descriptor.encode();
            assertEquals(72, encoded.length, "a 2-D descriptor is 72 bytes, for 256 KiB or for 1 GiB");
            try (Tensor view = pool.open(TensorDescriptor.decode(encoded))) {
                assertTrue(view.isReadOnly());
                assertEquals(42f, view.getFloat(view.index(255, 255)));
                assertArrayEquals(new long[] { 256, 256 }, view.shape());
            }
            try (Tensor row = t.slice(255, 256); Tensor rowView = pool.open(pool.describe(row))) {
                assertEquals(42f, rowView.getFloat(255), "slices describe their own offset");
            }
        }
    }

    @Test
    void namedFilesArePrivateUnguessableAndTheDirectoryGoesWhenEmpty() throws Exception {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.namedSettings(MIB, 4 * MIB));
                Tensor t = pool.allocate(DType.U8, 10)) {
            Path dir = pool.directory();
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
            try (Stream<Path> files = Files.list(dir)) {
                List<Path> pools = files.toList();
                assertEquals(1, pools.size());
                Path file = pools.get(0);
                assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
                assertTrue(file.getFileName().toString().matches("pool-[0-9a-f]{32}\\.shm"), file.toString());
            }
        }
        assertEquals(0, shm.poolFiles(), "closing the pool deletes its files");
        assertTrue(!Files.exists(shm.root.resolve("quarkus-model-sharing-" + PrivateDirectory.uid())),
                "and the per-user directory, once empty");
        try (SharedMemoryPool first = SharedMemoryPool.open(shm.namedSettings(MIB, 4 * MIB));
                SharedMemoryPool second = SharedMemoryPool.open(shm.namedSettings(MIB, 4 * MIB))) {
            Tensor kept = second.allocate(DType.U8, 10);
            first.allocate(DType.U8, 10).close();
            first.close();
            assertTrue(Files.isDirectory(second.directory()), "a directory another pool has files in stays");
            kept.close();
            second.close();
            assertTrue(!Files.exists(second.directory()), "the last pool to close takes it away");
        }
        try (SharedMemoryPool late = SharedMemoryPool.open(shm.namedSettings(MIB, 4 * MIB))) {
            PrivateDirectory.removeIfEmpty(late.directory()); // another process's last pool closed meanwhile
            try (Tensor t = late.allocate(DType.U8, 10)) {
                assertEquals(1, shm.poolFiles(), "the directory was made again for the new pool file");
            }
        }
    }

    @Test
    void memfdPoolsLeaveNoFileAnywhere() throws Exception {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(MIB, 4 * MIB));
                Tensor t = pool.allocate(DType.U8, 10)) {
            assertEquals(StorageKind.SHARED, t.storageKind());
            try (Stream<Path> anything = Files.walk(shm.root)) {
                assertEquals(List.of(shm.root), anything.toList(), "a memfd pool has no name in any directory");
            }
            String maps = Files.readString(Path.of("/proc/self/maps"));
            assertTrue(maps.contains("/memfd:qms-pool-" + pool.describe(t).poolId()), "mapped as a memfd");
        }
    }

    @Test
    void freedBlocksAreReusedAndTheirOldDescriptorsRefused() {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(MIB, 4 * MIB))) {
            Tensor first = pool.allocate(DType.I64, 100);
            TensorDescriptor old = pool.describe(first);
            first.close();
            SharedMemoryException e = assertThrows(SharedMemoryException.class, () -> pool.open(old));
            assertEquals(old + " names a block that was freed or reused: its owner released the tensor before this"
                    + " process opened it", e.getMessage());
            try (Tensor second = pool.allocate(DType.I64, 100)) {
                TensorDescriptor reused = pool.describe(second);
                assertEquals(old.offset(), reused.offset(), "the freed block is reused");
                assertNotEquals(old.generation(), reused.generation());
                assertThrows(SharedMemoryException.class, () -> pool.open(old));
                assertEquals(0, second.getLong(3), "allocate zero-fills reused memory");
            }
            assertEquals(0, pool.usedBytes());
        }
    }

    @Test
    void anOpenViewKeepsTheBlockFromReuseUntilItCloses() {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(MIB, 4 * MIB))) {
            Tensor owner = pool.allocate(DType.I32, 16);
            owner.setInt(15, 77);
            TensorDescriptor descriptor = pool.describe(owner);
            Tensor view = pool.open(descriptor);
            owner.close(); // the producer is done; the consumer is not
            try (Tensor next = pool.allocate(DType.I32, 16)) {
                assertNotEquals(descriptor.offset(), pool.describe(next).offset(), "the held block is not reused");
                assertEquals(77, view.getInt(15), "the view still reads the producer's data");
            }
            assertThrows(SharedMemoryException.class, () -> pool.open(descriptor), "no new view of a freed tensor");
            view.close();
            try (Tensor reused = pool.allocate(DType.I32, 16)) {
                assertEquals(descriptor.offset(), pool.describe(reused).offset(), "reclaimed once the view closed");
            }
            assertEquals(0, pool.usedBytes());
        }
    }

    @Test
    void descriptorsOutsideThePoolAreRefusedBeforeAByteIsRead() {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(MIB, 4 * MIB));
                Tensor t = pool.allocate(DType.U8, 64)) {
            TensorDescriptor d = pool.describe(t);
            TensorDescriptor past = new TensorDescriptor(d.poolId(), d.generation(), MIB - 64, 0, 128, DType.U8,
                    new long[] { 128 }, true);
            assertEquals(past + " lies outside pool " + d.poolId() + " (memfd) (" + MIB + " bytes)",
                    assertThrows(SharedMemoryException.class, () -> pool.open(past)).getMessage());
            TensorDescriptor misaligned = new TensorDescriptor(d.poolId(), d.generation(), d.offset() + 8, 0, 8, DType.U8,
                    new long[] { 8 }, true);
            assertThrows(SharedMemoryException.class, () -> pool.open(misaligned));
            TensorDescriptor pastBlock = new TensorDescriptor(d.poolId(), d.generation(), d.offset(), 32, 64, DType.U8,
                    new long[] { 64 }, true);
            assertEquals(pastBlock + " runs past the end of its 64-byte block",
                    assertThrows(SharedMemoryException.class, () -> pool.open(pastBlock)).getMessage());
            TensorDescriptor unknown = new TensorDescriptor("00000000000000000000000000000000", 1, 64, 0, 8, DType.U8,
                    new long[] { 8 }, true);
            assertEquals("Shared-memory pool 00000000000000000000000000000000 is not shared with this process: its owner"
                    + " has exited, it is a memfd pool (those reach another process only over a worker connection;"
                    + " readers without one need named pool files), or the tensor lives on another host (descriptors"
                    + " travel only between processes that share " + shm.root + ")",
                    assertThrows(SharedMemoryException.class, () -> pool.open(unknown)).getMessage());
        }
    }

    @Test
    void poolGrowsByFilesUpToTheProcessQuota() {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(MIB, 2 * MIB))) {
            Tensor a = pool.allocate(DType.U8, 900 * 1024);
            Tensor b = pool.allocate(DType.U8, 900 * 1024);
            assertEquals(2 * MIB, pool.mappedBytes(), "two pool files");
            assertEquals(2, pool.fileCount());
            QuotaExceededException e = assertThrows(QuotaExceededException.class, () -> pool.allocate(DType.U8, 900 * 1024));
            assertEquals("This process's shared-memory quota is 2097152 bytes; its pools hold 2097152 and a 921664-byte"
                    + " tensor needs a new 1048576-byte pool file. Close tensors you no longer need, or raise the quota",
                    e.getMessage());
            a.close();
            pool.allocate(DType.U8, 900 * 1024).close();
            b.close();
        }
    }

    @Test
    void manyThreadsFindingThePoolFullAddOneFileNotOneEach() throws Exception {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(MIB, 64 * MIB));
                java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors
                        .newVirtualThreadPerTaskExecutor()) {
            java.util.concurrent.CountDownLatch start = new java.util.concurrent.CountDownLatch(1);
            java.util.List<java.util.concurrent.Future<Tensor>> tensors = new java.util.ArrayList<>();
            for (int i = 0; i < 250; i++) {
                tensors.add(threads.submit(() -> {
                    start.await();
                    return pool.allocate(DType.F32, 1, 4);
                }));
            }
            start.countDown();
            for (java.util.concurrent.Future<Tensor> tensor : tensors) {
                tensor.get().close();
            }
            assertEquals(MIB, pool.mappedBytes(), "250 small tensors fit one pool file");
        }
    }

    @Test
    void aFragmentedPoolNeverHandsOutOverlappingBlocks() {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(MIB, 4 * MIB))) {
            java.util.Random random = new java.util.Random(11);
            java.util.List<Tensor> live = new java.util.ArrayList<>();
            for (int round = 0; round < 2_000; round++) {
                if (!live.isEmpty() && random.nextInt(3) == 0) {
                    Tensor gone = live.remove(random.nextInt(live.size()));
                    long before = pool.usedBytes();
                    gone.close();
                    assertTrue(pool.usedBytes() < before, "closing " + gone + " gave its block back");
                } else {
                    live.add(pool.allocate(DType.I32, 1 + random.nextInt(300)));
                }
                if (round % 100 == 0) {
                    // every live tensor holds its own number everywhere; an overlap would overwrite another's
                    for (int t = 0; t < live.size(); t++) {
                        for (long i = 0; i < live.get(t).elementCount(); i++) {
                            live.get(t).setInt(i, t);
                        }
                    }
                    for (int t = 0; t < live.size(); t++) {
                        for (long i = 0; i < live.get(t).elementCount(); i++) {
                            assertEquals(t, live.get(t).getInt(i), "tensor " + t + " was overwritten by another");
                        }
                        try (Tensor view = pool.open(pool.describe(live.get(t)))) {
                            assertEquals(t, view.getInt(0), "its block header still names it");
                        }
                    }
                }
            }
            live.forEach(Tensor::close);
            assertEquals(0, pool.usedBytes(), "live " + live.size());
        }
    }

    @Test
    void sessionsHaveTheirOwnQuota() {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(MIB, 4 * MIB))) {
            SharedMemoryPool.Session session = pool.session("client-7", 4096);
            Tensor small = session.allocate(DType.F32, 512);
            assertEquals("Shared-memory session 'client-7' holds 2112 bytes of its 4096-byte quota; a F32 tensor of"
                    + " 4096 bytes does not fit. Close tensors the session no longer needs",
                    assertThrows(QuotaExceededException.class, () -> session.allocate(DType.F32, 1024)).getMessage());
            small.close();
            assertEquals(0, session.usedBytes());
            session.allocate(DType.F32, 900).close();
        }
    }

    @Test
    void withoutUsableSharedMemoryTensorsFallBackToOffHeap() {
        SharedMemorySettings missing = shm.namedSettings(MIB, 4 * MIB).withRoot(shm.root.resolve("missing"));
        assertEquals(shm.root.resolve("missing") + " does not exist", SharedMemory.unusable(missing).orElseThrow());
        TensorAllocator allocator = SharedMemory.allocator(missing);
        assertEquals(StorageKind.OFF_HEAP, allocator.kind());
        try (Tensor t = allocator.allocate(DType.F32, 4)) {
            assertEquals(StorageKind.OFF_HEAP, t.storageKind());
        }
        SharedMemorySettings huge = new SharedMemorySettings(shm.root, 1L << 50, 1L << 50, java.time.Duration.ofSeconds(1),
                true);
        assertTrue(SharedMemory.unusable(huge).orElseThrow().contains("less than one 1125899906842624-byte pool file"));
        TensorAllocator usable = SharedMemory.allocator(shm.settings(MIB, 4 * MIB));
        assertEquals(StorageKind.SHARED, usable.kind());
        ((SharedMemoryPool) usable).close();
    }

    @Test
    void tensorsFromElsewhereCannotBeDescribed() {
        try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(MIB, 4 * MIB));
                Tensor t = Tensor.allocate(DType.F32, 2)) {
            assertEquals("Tensor[F32 [2] off-heap] is not in this process's shared-memory pool; copy it with"
                    + " pool.copyOf(tensor) to share it",
                    assertThrows(SharedMemoryException.class, () -> pool.describe(t)).getMessage());
            try (Tensor shared = pool.copyOf(t)) {
                assertEquals(StorageKind.SHARED, shared.storageKind());
            }
        }
    }
}
