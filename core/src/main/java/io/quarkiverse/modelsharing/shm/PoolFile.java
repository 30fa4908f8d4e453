package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One file of a shared-memory pool, mapped once. Its name carries an unguessable 128-bit id and its owner's pid and
 * start time: {@code pool-<32 hex>-<pid>-<start>.shm}. The owner carves tensor blocks out of it; other processes
 * map it read-only to read them.
 */
final class PoolFile implements AutoCloseable {

    static final Pattern NAME = Pattern.compile("pool-([0-9a-f]{32})-(\\d+)-(\\d+)\\.shm");
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final int MODE_0600 = 0600;
    private static final long PAGE = 4096;

    final String id;
    final Path path;
    final MemorySegment segment;
    private final Arena arena;
    private final boolean owner;
    /** Free ranges of the file, offset to length; owner only, guarded by {@code this}. */
    private final TreeMap<Long, Long> free = new TreeMap<>();
    private long freeBytes;

    private PoolFile(String id, Path path, MemorySegment segment, Arena arena, boolean owner) {
        this.id = id;
        this.path = path;
        this.segment = segment;
        this.arena = arena;
        this.owner = owner;
        if (owner) {
            free.put(0L, segment.byteSize());
            freeBytes = segment.byteSize();
        }
    }

    /** Creates, reserves (no SIGBUS later), maps and pre-faults a new pool file in {@code directory}. */
    static PoolFile create(Path directory, long size, ProcessIdentity self) {
        byte[] random = new byte[16];
        RANDOM.nextBytes(random);
        String id = HexFormat.of().formatHex(random);
        Path path = directory.resolve("pool-" + id + "-" + self.pid() + "-" + self.startTime() + ".shm");
        int error = Libc.createReserved(path, MODE_0600, size);
        if (error != 0) {
            deleteQuietly(path);
            if (error == Libc.ENOSPC) {
                throw new SharedMemoryException("No space left in " + directory.getParent() + " for a " + size
                        + "-byte shared-memory pool (" + usable(directory) + " bytes free): raise the tmpfs size"
                        + " (in a container, e.g. docker run --shm-size or a larger emptyDir medium: Memory) or lower the pool size");
            }
            throw new SharedMemoryException("Cannot create shared-memory pool " + path + ": errno " + error);
        }
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MemorySegment mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, size, arena);
            // Touch every page now, so that writing a tensor later runs at memcpy speed instead of page-fault speed.
            for (long page = 0; page < size; page += PAGE) {
                mapped.set(ValueLayout.JAVA_BYTE, page, (byte) 0);
            }
            return new PoolFile(id, path, mapped, arena, true);
        } catch (IOException | RuntimeException e) {
            arena.close();
            deleteQuietly(path);
            throw new SharedMemoryException("Cannot map shared-memory pool " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * Maps another process's pool file. Read-write, because a view counts itself in the block header; the tensors
     * handed out over it are read-only.
     */
    static PoolFile open(Path path) {
        Matcher name = NAME.matcher(path.getFileName().toString());
        if (!name.matches()) {
            throw new SharedMemoryException(path + " is not a shared-memory pool file");
        }
        Arena arena = Arena.ofShared();
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MemorySegment mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, channel.size(), arena);
            return new PoolFile(name.group(1), path, mapped, arena, false);
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw new SharedMemoryException("Cannot map shared-memory pool " + path + ": " + e.getMessage(), e);
        }
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

    /** Unmaps; the owner also deletes the file. Readers that mapped it keep their mapping until they unmap. */
    @Override
    public void close() {
        arena.close();
        if (owner) {
            deleteQuietly(path);
        }
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
