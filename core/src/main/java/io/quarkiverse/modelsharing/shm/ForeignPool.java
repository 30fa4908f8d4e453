package io.quarkiverse.modelsharing.shm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Another process's pool, mapped here. Counted: whoever keeps it for later (a connection that received it, the cache
 * of named pools) holds one reference and every view opened on it another; the last release unmaps it, so a pool is
 * never mapped here longer than something uses it.
 */
final class ForeignPool {

    final String id;
    final MemorySegment segment;
    private final Arena arena;
    private final String origin;
    /** References; once it reaches 0 the pool is unmapped and no reference can be taken again. */
    private final AtomicInteger references = new AtomicInteger(1);
    private final Runnable onUnmap;

    private ForeignPool(String id, MemorySegment segment, Arena arena, String origin, Runnable onUnmap) {
        this.id = id;
        this.segment = segment;
        this.arena = arena;
        this.origin = origin;
        this.onUnmap = onUnmap;
    }

    /**
     * Maps, read-only, a pool that a peer sent as a file descriptor, and closes the descriptor. Refused unless it is
     * a memfd sealed against shrinking, of the size the peer announced: a file its owner could shrink would turn a
     * read of it into a SIGBUS here.
     */
    static ForeignPool ofDescriptor(String id, int fd, long announced, String peer, Runnable onUnmap) {
        try {
            int seals = Libc.seals(fd);
            if (seals < 0 || (seals & Libc.F_SEAL_SHRINK) == 0) {
                throw new SharedMemoryException("Pool " + id + " from " + peer + " is not a memfd sealed against"
                        + " shrinking (seals " + seals + "); it is refused, since its owner could shrink it under a reader");
            }
            long size = Libc.size(fd);
            if (size != announced || size <= 0) {
                throw new SharedMemoryException("Pool " + id + " from " + peer + " is " + size + " bytes, not the "
                        + announced + " bytes announced");
            }
            Arena arena = Arena.ofShared();
            try {
                return new ForeignPool(id, Libc.map(fd, size, false, arena), arena, "pool " + id + " of " + peer,
                        onUnmap);
            } catch (RuntimeException e) {
                arena.close();
                throw e;
            }
        } finally {
            Libc.close(fd);
        }
    }

    /**
     * Maps another process's named pool file read-write: views opened from descriptors count themselves in its block
     * headers, which is how a reader without a socket keeps a block from reuse.
     */
    static ForeignPool ofNamedFile(String id, Path path, Runnable onUnmap) {
        int fd = Libc.open(path, Libc.O_RDWR, 0);
        if (fd < 0) {
            throw new SharedMemoryException("Cannot open shared-memory pool " + path + ": errno " + -fd);
        }
        try {
            long size = Libc.size(fd);
            Arena arena = Arena.ofShared();
            try {
                return new ForeignPool(id, Libc.map(fd, size, true, arena), arena, path.toString(), onUnmap);
            } catch (RuntimeException e) {
                arena.close();
                throw e;
            }
        } finally {
            Libc.close(fd);
        }
    }

    /** Takes a reference, unless the pool was already unmapped. */
    boolean tryRetain() {
        for (;;) {
            int current = references.get();
            if (current <= 0) {
                return false;
            }
            if (references.compareAndSet(current, current + 1)) {
                return true;
            }
        }
    }

    void release() {
        if (references.decrementAndGet() == 0) {
            onUnmap.run();
            arena.close();
        }
    }

    @Override
    public String toString() {
        return origin;
    }
}
