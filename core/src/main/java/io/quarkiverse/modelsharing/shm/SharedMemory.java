package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

import io.quarkiverse.modelsharing.tensor.TensorAllocator;

/**
 * Capability detection: shared-memory pools where the platform has a usable tmpfs, this process's native memory
 * (and serialization for other processes) where it does not, said once in the log.
 */
public final class SharedMemory {

    private static final System.Logger LOG = System.getLogger(SharedMemory.class.getName());
    private static final AtomicBoolean FALLBACK_LOGGED = new AtomicBoolean();

    private SharedMemory() {
    }

    /** A shared-memory pool if {@link #unusable(SharedMemorySettings)} finds nothing wrong, else off-heap memory. */
    public static TensorAllocator allocator(SharedMemorySettings settings) {
        Optional<String> problem = unusable(settings);
        if (problem.isEmpty()) {
            try {
                return SharedMemoryPool.open(settings);
            } catch (SharedMemoryException e) {
                problem = Optional.of(e.getMessage());
            }
        }
        if (FALLBACK_LOGGED.compareAndSet(false, true)) {
            LOG.log(Level.WARNING, "Shared memory is not available ({0}): tensors use this process''s memory and"
                    + " travel to other processes serialized", problem.get());
        }
        return TensorAllocator.offHeap();
    }

    /**
     * Why shared memory cannot be used with these settings, if it cannot: the kernel refuses memfds, or (for named pool
     * files) their tmpfs is missing, read-only, or too small.
     */
    public static Optional<String> unusable(SharedMemorySettings settings) {
        if (!settings.namedFiles()) {
            try {
                Libc.close(Libc.memfdCreate("qms-probe"));
                return Optional.empty();
            } catch (SharedMemoryException e) {
                return Optional.of(e.getMessage());
            }
        }
        Path root = settings.root();
        if (!Files.isDirectory(root)) {
            return Optional.of(root + " does not exist");
        }
        if (!Files.isWritable(root)) {
            return Optional.of(root + " is read-only");
        }
        try {
            long usable = Files.getFileStore(root).getUsableSpace();
            if (usable < settings.poolFileBytes()) {
                return Optional.of(root + " has " + usable + " bytes free, less than one " + settings.poolFileBytes()
                        + "-byte pool file (in a container, raise --shm-size)");
            }
        } catch (IOException e) {
            return Optional.of("cannot read the free space of " + root + ": " + e.getMessage());
        }
        return Optional.empty();
    }
}
