package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * One file of a shared-memory pool, mapped once, owned by this process: it carves tensor blocks out of it.
 * <p>
 * By default the file is a memfd sealed against shrinking and growing: it has no name, a peer gets it only as a file
 * descriptor over a Unix socket, and the kernel frees it when the last process holding it (a descriptor or a mapping)
 * goes, SIGKILL included. No peer can shrink it under a reader, so a mapping of it never faults. A named pool file
 * ({@code pool-<32 hex>.shm} in the per-user directory) is only for readers without a socket; its owner holds an
 * open-file-description lock on it for its whole life, which is how the janitor tells a live owner from a dead one in
 * any PID namespace.
 */
final class PoolFile implements AutoCloseable {

    static final Pattern NAME = Pattern.compile("pool-([0-9a-f]{32})\\.shm");
    static final Pattern CREATING = Pattern.compile("\\.pool-([0-9a-f]{32})\\.tmp");
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int MODE_0600 = 0600;
    private static final long PAGE = 4096;
    private static final int SEALS = Libc.F_SEAL_SHRINK | Libc.F_SEAL_GROW | Libc.F_SEAL_SEAL;

    final String id;
    /** The named file, or null for a memfd. */
    final Path path;
    final MemorySegment segment;
    private final int fd;
    private final Arena arena;
    /** Free ranges of the file, offset to length; guarded by {@code this}. */
    private final TreeMap<Long, Long> free = new TreeMap<>();
    private long freeBytes;

    private PoolFile(String id, Path path, int fd, MemorySegment segment, Arena arena) {
        this.id = id;
        this.path = path;
        this.fd = fd;
        this.segment = segment;
        this.arena = arena;
        free.put(0L, segment.byteSize());
        freeBytes = segment.byteSize();
    }

    /** Creates, reserves (no SIGBUS later), seals, maps and pre-faults a new memfd pool. */
    static PoolFile createMemfd(long size) {
        String id = randomId();
        int fd = Libc.memfdCreate("qms-pool-" + id);
        try {
            reserve(fd, size, null);
            Libc.addSeals(fd, SEALS);
            return mapped(id, null, fd, size);
        } catch (RuntimeException e) {
            Libc.close(fd);
            throw e;
        }
    }

    /**
     * Creates a named pool file in {@code directory}, for readers without a socket. It is made under a temporary name,
     * locked, reserved and only then renamed into place, so that the janitor never sees a pool file without its lock.
     */
    static PoolFile createNamed(SharedMemorySettings settings, long size) {
        for (int attempt = 0;; attempt++) {
            Path directory = settings.prepareDirectory(); // again if the last process that used it removed it
            String id = randomId();
            Path creating = directory.resolve(".pool-" + id + ".tmp");
            Path path = directory.resolve("pool-" + id + ".shm");
            int fd = Libc.open(creating, Libc.O_RDWR | Libc.O_CREAT | Libc.O_EXCL, MODE_0600);
            if (fd == -Libc.ENOENT && attempt < 3) {
                continue;
            }
            if (fd < 0) {
                throw new SharedMemoryException("Cannot create shared-memory pool " + creating + ": errno " + -fd);
            }
            try {
                if (!Libc.tryLock(fd)) {
                    throw new SharedMemoryException("Cannot lock the new shared-memory pool " + creating);
                }
                reserve(fd, size, directory);
                try {
                    Files.move(creating, path, StandardCopyOption.ATOMIC_MOVE);
                } catch (NoSuchFileException e) {
                    // a janitor took it for a crashed creation before it was locked, or the directory went: again
                    Libc.close(fd);
                    if (attempt >= 3) {
                        throw new SharedMemoryException("Cannot create shared-memory pool " + path + ": it kept"
                                + " vanishing");
                    }
                    continue;
                }
                return mapped(id, path, fd, size);
            } catch (IOException | RuntimeException e) {
                Libc.close(fd);
                deleteQuietly(creating);
                deleteQuietly(path);
                if (e instanceof SharedMemoryException shm) {
                    throw shm;
                }
                throw new SharedMemoryException("Cannot create shared-memory pool " + path + ": " + e.getMessage(), e);
            }
        }
    }

    /** Reserves the pool's memory now, so that a write to it can never fault; {@code directory} is null for a memfd. */
    private static void reserve(int fd, long size, Path directory) {
        int error = Libc.fallocate(fd, size);
        if (error == Libc.ENOSPC) {
            String where = directory == null ? "this process's memory (memfd) limits"
                    : directory.getParent() + " (" + usable(directory) + " bytes free)";
            throw new SharedMemoryException("No space left in " + where + " for a " + size + "-byte shared-memory pool:"
                    + " raise the tmpfs size (in a container, e.g. docker run --shm-size or a larger emptyDir medium:"
                    + " Memory) or lower the pool size");
        }
        if (error != 0) {
            throw new SharedMemoryException("Cannot reserve " + size + " bytes for a shared-memory pool: errno " + error);
        }
    }

    private static PoolFile mapped(String id, Path path, int fd, long size) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment mapped = Libc.map(fd, size, true, arena);
            // Touch every page now, so that writing a tensor later runs at memcpy speed instead of page-fault speed.
            for (long page = 0; page < size; page += PAGE) {
                mapped.set(ValueLayout.JAVA_BYTE, page, (byte) 0);
            }
            return new PoolFile(id, path, fd, mapped, arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static String randomId() {
        byte[] random = new byte[16];
        RANDOM.nextBytes(random);
        return HexFormat.of().formatHex(random);
    }

    boolean isNamed() {
        return path != null;
    }

    /**
     * A new read-only descriptor of this pool for a peer (the caller closes it once sent), which our peers map read-only.
     * It is no protection against a hostile peer, which can reopen it read-write through {@code /proc}: nothing in a
     * pool a peer holds is trusted (a worker's output pools are the connection's own, and their headers count nothing
     * the worker relies on). Where {@code /proc} cannot reopen the memfd, the peer gets a duplicate.
     */
    int descriptorForPeer() {
        int readOnly = Libc.open(Path.of("/proc/self/fd/" + fd), Libc.O_RDONLY, 0);
        return readOnly >= 0 ? readOnly : Libc.duplicate(fd);
    }

    /** Reserves a block for {@code blockBytes}; returns its header offset, or -1 if no free range is large enough. */
    synchronized long allocate(long blockBytes) {
        for (Map.Entry<Long, Long> range : free.entrySet()) {
            // Read the entry before removing it: TreeMap reuses a removed node for its successor's key and value.
            long offset = range.getKey();
            long length = range.getValue();
            if (length >= blockBytes) {
                free.remove(offset);
                if (length > blockBytes) {
                    free.put(offset + blockBytes, length - blockBytes);
                }
                freeBytes -= blockBytes;
                return offset;
            }
        }
        return -1;
    }

    /** Returns a block, merging it with free neighbours. */
    synchronized void release(long offset, long blockBytes) {
        long start = offset;
        long length = blockBytes;
        Map.Entry<Long, Long> before = free.floorEntry(offset);
        if (before != null && before.getKey() + before.getValue() == offset) {
            start = before.getKey();
            length += before.getValue();
            free.remove(before.getKey());
        }
        Long after = free.get(offset + blockBytes);
        if (after != null) {
            length += after;
            free.remove(offset + blockBytes);
        }
        free.put(start, length);
        freeBytes += blockBytes;
    }

    synchronized long freeBytes() {
        return freeBytes;
    }

    long size() {
        return segment.byteSize();
    }

    /** Unmaps and closes; a named file is deleted. Peers that mapped a memfd keep its memory until they unmap. */
    @Override
    public void close() {
        arena.close();
        Libc.close(fd);
        if (path != null) {
            deleteQuietly(path);
        }
    }

    @Override
    public String toString() {
        return "pool " + id + (path != null ? " (" + path + ")" : " (memfd)");
    }

    static void deleteQuietly(Path path) {
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // the janitor removes what this process could not
        }
    }

    private static long usable(Path directory) {
        try {
            return Files.getFileStore(directory).getUsableSpace();
        } catch (IOException e) {
            return -1;
        }
    }
}
