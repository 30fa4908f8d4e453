package io.quarkiverse.modelsharing.shm;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;

/**
 * The layout of one tensor block in a pool file: a 64-byte header, then the tensor's bytes, 64-byte aligned.
 *
 * <pre>
 * header offset  size  field
 *  0             4     magic "QMSB" (0x42534D51, little-endian)
 *  4             4     reserved (0)
 *  8             8     generation: unique per allocation in the pool, 0 once the block is freed
 * 16             8     length of the tensor's bytes
 * 24             8     references held by views opened from descriptors, in this or other processes
 * 32            32     reserved (0)
 * </pre>
 *
 * A descriptor names the data offset (header offset + 64) and the generation; a reader checks both against the
 * header before reading a byte, so a descriptor of a freed or reused block is refused.
 * <p>
 * A reader counts itself in {@code references} before it checks the generation, and the owner retires the
 * generation before it reads {@code references}: so either the reader sees the retired generation and backs out,
 * or the owner sees the reference and keeps the block until it drops to zero. The count is never reset, so a
 * reader that backs out of a reused block leaves it exact.
 */
final class BlockLayout {

    static final int MAGIC = 0x42534D51;
    static final long HEADER_BYTES = 64;
    static final long ALIGNMENT = 64;
    static final long MAGIC_OFFSET = 0;
    static final long GENERATION_OFFSET = 8;
    static final long LENGTH_OFFSET = 16;
    static final long REFERENCES_OFFSET = 24;

    private static final VarHandle GENERATION = JAVA_LONG.varHandle();
    private static final VarHandle REFERENCES = JAVA_LONG.varHandle();

    private BlockLayout() {
    }

    /** Bytes a block of {@code length} data bytes takes in the pool, header included. */
    static long blockBytes(long length) {
        return HEADER_BYTES + align(Math.max(length, 1));
    }

    static long align(long bytes) {
        return (bytes + ALIGNMENT - 1) & -ALIGNMENT;
    }

    static void write(MemorySegment pool, long headerOffset, long generation, long length) {
        pool.set(JAVA_INT, headerOffset + MAGIC_OFFSET, MAGIC);
        pool.set(JAVA_LONG, headerOffset + LENGTH_OFFSET, length);
        GENERATION.setRelease(pool, headerOffset + GENERATION_OFFSET, generation);
    }

    static void retire(MemorySegment pool, long headerOffset) {
        GENERATION.setRelease(pool, headerOffset + GENERATION_OFFSET, 0L);
    }

    static long generation(MemorySegment pool, long headerOffset) {
        return (long) GENERATION.getAcquire(pool, headerOffset + GENERATION_OFFSET);
    }

    /** Adds {@code delta} to the block's reader references, atomically across processes; returns the new count. */
    static long addReferences(MemorySegment pool, long headerOffset, long delta) {
        return (long) REFERENCES.getAndAdd(pool, headerOffset + REFERENCES_OFFSET, delta) + delta;
    }

    static long references(MemorySegment pool, long headerOffset) {
        return (long) REFERENCES.getVolatile(pool, headerOffset + REFERENCES_OFFSET);
    }

    static int magic(MemorySegment pool, long headerOffset) {
        return pool.get(JAVA_INT, headerOffset + MAGIC_OFFSET);
    }

    static long length(MemorySegment pool, long headerOffset) {
        return pool.get(JAVA_LONG, headerOffset + LENGTH_OFFSET);
    }
}
