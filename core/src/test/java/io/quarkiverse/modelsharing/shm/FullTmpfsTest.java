package io.quarkiverse.modelsharing.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * A full tmpfs is an exception at allocation, never a SIGBUS at a later write: the test mounts a 1 MiB tmpfs of its
 * own (the build runs as root, as CI does) and asks for more than it holds.
 */
class FullTmpfsTest {

    @Test
    void aFullTmpfsIsAClearExceptionNotASigbus() throws Exception {
        withTmpfs("size=1m", mount -> {
            SharedMemorySettings settings = new SharedMemorySettings(mount, 512 * 1024, 8L << 20, Duration.ofSeconds(1), true);
            try (SharedMemoryPool pool = SharedMemoryPool.open(settings)) {
                Tensor first = pool.allocate(DType.U8, 400 * 1024); // one 512 KiB file fits
                SharedMemoryException e = assertThrows(SharedMemoryException.class,
                        () -> pool.allocate(DType.U8, 900 * 1024)); // a second file of 904 KiB does not
                assertTrue(e.getMessage().startsWith("No space left in " + mount + " ("), e.getMessage());
                assertTrue(e.getMessage().endsWith(" bytes free) for a 925696-byte shared-memory pool: raise the tmpfs"
                        + " size (in a container, e.g. docker run --shm-size or a larger emptyDir medium: Memory) or lower"
                        + " the pool size"), e.getMessage());
                first.setByte(400 * 1024 - 1, (byte) 1); // the reserved pool is still fully writable
                assertEquals(1, first.getByte(400 * 1024 - 1));
                first.close();
            }
            assertTrue(!Files.exists(settings.directory()), "the failed pool file, the closed one and then the empty"
                    + " directory were removed");
        });
    }

    @Test
    void aReadOnlyTmpfsFallsBackToOffHeap() throws Exception {
        withTmpfs("ro,size=1m", mount -> {
            SharedMemorySettings settings = new SharedMemorySettings(mount, 512 * 1024, 8L << 20, Duration.ofSeconds(1), true);
            assertEquals(mount + " is read-only", SharedMemory.unusable(settings).orElseThrow());
            assertEquals(io.quarkiverse.modelsharing.tensor.StorageKind.OFF_HEAP, SharedMemory.allocator(settings).kind());
        });
    }

    interface MountedTest {
        void run(Path mount) throws Exception;
    }

    /** Mounts a tmpfs of its own under target/, runs the test on it, and unmounts it whatever happens. */
    private static void withTmpfs(String options, MountedTest test) throws Exception {
        Path mount = Files.createTempDirectory(Path.of("target").toAbsolutePath(), "tmpfs");
        run("mount", "-t", "tmpfs", "-o", options, "tmpfs", mount.toString());
        try {
            test.run(mount);
        } finally {
            run("umount", mount.toString());
            Files.delete(mount);
        }
    }

    private static void run(String... command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes());
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, process.exitValue(), String.join(" ", command) + " failed (the test needs root to mount a"
                + " tmpfs): " + output);
    }
}
