package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How a process uses shared memory.
 *
 * @param root the tmpfs for named pool files, normally {@code /dev/shm}; they go into a per-user directory under it
 * @param poolFileBytes the size of each pool file; a tensor larger than this gets a file of its own
 * @param maxBytes the process's quota: all its pool files together
 * @param janitorPeriod how often to remove the named pool files of processes that died
 * @param namedFiles whether pools are named files under {@code root} that any process of the user can open from a
 *        descriptor (for readers without a socket: NumPy, a clustered event bus on one host), instead of memfds that
 *        reach other processes only over a worker connection and that the kernel frees with their last holder
 */
public record SharedMemorySettings(Path root, long poolFileBytes, long maxBytes, Duration janitorPeriod,
        boolean namedFiles) {

    public static final Path DEFAULT_ROOT = Path.of("/dev/shm");
    public static final long DEFAULT_POOL_FILE_BYTES = 64L << 20;
    public static final long DEFAULT_MAX_BYTES = 4L << 30;
    public static final Duration DEFAULT_JANITOR_PERIOD = Duration.ofSeconds(1);

    public SharedMemorySettings {
        if (poolFileBytes < 4096 || poolFileBytes % 4096 != 0) {
            throw new IllegalArgumentException("the pool file size must be a positive multiple of 4096 bytes, was "
                    + poolFileBytes);
        }
        if (maxBytes < poolFileBytes) {
            throw new IllegalArgumentException("the shared-memory quota (" + maxBytes
                    + " bytes) must hold at least one pool file (" + poolFileBytes + " bytes)");
        }
    }

    /** Memfd pools (no named files). */
    public SharedMemorySettings(Path root, long poolFileBytes, long maxBytes, Duration janitorPeriod) {
        this(root, poolFileBytes, maxBytes, janitorPeriod, false);
    }

    public static SharedMemorySettings defaults() {
        return new SharedMemorySettings(DEFAULT_ROOT, DEFAULT_POOL_FILE_BYTES, DEFAULT_MAX_BYTES, DEFAULT_JANITOR_PERIOD);
    }

    public SharedMemorySettings withRoot(Path newRoot) {
        return new SharedMemorySettings(newRoot, poolFileBytes, maxBytes, janitorPeriod, namedFiles);
    }

    public SharedMemorySettings withNamedFiles(boolean named) {
        return new SharedMemorySettings(root, poolFileBytes, maxBytes, janitorPeriod, named);
    }

    public SharedMemorySettings withPoolFileBytes(long bytes) {
        return new SharedMemorySettings(root, bytes, Math.max(maxBytes, bytes), janitorPeriod, namedFiles);
    }

    /** The per-user directory that holds the pools (and the workers' sockets). */
    public Path directory() {
        return PrivateDirectory.ofUser(root);
    }

    /**
     * The per-user directory, prepared by {@link PrivateDirectory#prepare}, so that nothing shared through it can be read
     * or replaced by another user.
     *
     * @throws SharedMemoryException if it cannot be created, is someone else's or others could write into it
     */
    public Path prepareDirectory() {
        try {
            return PrivateDirectory.prepare(directory());
        } catch (IOException e) {
            throw new SharedMemoryException("Cannot prepare the shared-memory directory " + directory() + ": " + e.getMessage(),
                    e);
        }
    }
}
