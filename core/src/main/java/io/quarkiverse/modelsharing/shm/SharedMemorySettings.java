package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Set;

/**
 * How a process uses shared memory.
 *
 * @param root the tmpfs to put pools in, normally {@code /dev/shm}; pools go into a per-user directory under it
 * @param poolFileBytes the size of each pool file; a tensor larger than this gets a file of its own
 * @param maxBytes the process's quota: all its pool files together
 * @param janitorPeriod how often to remove the pools of processes that died
 */
public record SharedMemorySettings(Path root, long poolFileBytes, long maxBytes, Duration janitorPeriod) {

    public static final Path DEFAULT_ROOT = Path.of("/dev/shm");
    public static final long DEFAULT_POOL_FILE_BYTES = 64L << 20;
    public static final long DEFAULT_MAX_BYTES = 4L << 30;
    public static final Duration DEFAULT_JANITOR_PERIOD = Duration.ofSeconds(1);
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");

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

    public static SharedMemorySettings defaults() {
        return new SharedMemorySettings(DEFAULT_ROOT, DEFAULT_POOL_FILE_BYTES, DEFAULT_MAX_BYTES, DEFAULT_JANITOR_PERIOD);
    }

    public SharedMemorySettings withRoot(Path newRoot) {
        return new SharedMemorySettings(newRoot, poolFileBytes, maxBytes, janitorPeriod);
    }

    /** The per-user directory that holds the pools (and the workers' sockets). */
    public Path directory() {
        return root.resolve("quarkus-model-sharing-" + ProcessIdentity.uid());
    }

    /**
     * The per-user directory, created private to this user (0700) if missing, and checked to be a directory that
     * belongs to this process's user, so that nothing shared through it can be read or replaced by another user.
     *
     * @throws SharedMemoryException if it cannot be created, or is someone else's
     */
    public Path prepareDirectory() {
        Path directory = directory();
        try {
            if (!Files.exists(directory, LinkOption.NOFOLLOW_LINKS)) {
                Files.createDirectories(directory, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            }
            if (!Files.isDirectory(directory, LinkOption.NOFOLLOW_LINKS)) {
                throw new SharedMemoryException(directory + " exists and is not a directory; remove it");
            }
            int owner = (Integer) Files.getAttribute(directory, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            if (owner != ProcessIdentity.uid()) {
                throw new SharedMemoryException(directory + " belongs to user " + owner + ", not to this process's user "
                        + ProcessIdentity.uid() + "; refusing to share memory through it");
            }
            Files.setPosixFilePermissions(directory, OWNER_ONLY);
            return directory;
        } catch (IOException e) {
            throw new SharedMemoryException("Cannot prepare the shared-memory directory " + directory + ": " + e.getMessage(),
                    e);
        }
    }
}
