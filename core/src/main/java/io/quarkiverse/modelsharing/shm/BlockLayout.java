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
 *  8             8     state: generation in the high 40 bits (unique per allocation in the pool, 0 once freed),
 *                      references held by views opened from descriptors in the low 24 bits
 * 16             8     length of the tensor's bytes
 * 24            40     reserved (0)
 * </pre>
 *
 * Generation and references share one word so that a reader can take a reference only while the block still holds
 * the generation its descriptor names (one compare-and-set), and the owner can retire the generation and learn
 * whether views remain in one step. A block is written afresh, references 0, each time it is allocated: no
 * reference can be taken on a free block, since its generation matches no descriptor.
 */
final class BlockLayout {

    static final int MAGIC = 0x42534D51;
    static final long HEADER_BYTES = 64;
    static final long ALIGNMENT = 64;
    static final long MAGIC_OFFSET = 0;
    static final long STATE_OFFSET = 8;
    static final long LENGTH_OFFSET = 16;
    static final int REFERENCE_BITS = 24;
    static final long REFERENCE_MASK = (1L << REFERENCE_BITS) - 1;
    static final long MAX_GENERATION = (1L << (64 - REFERENCE_BITS)) - 1;

    private static final VarHandle STATE = JAVA_LONG.varHandle();

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
        STATE.setRelease(pool, headerOffset + STATE_OFFSET, generation << REFERENCE_BITS);
    }

    /** Takes a reference if the block still holds {@code generation}; returns whether it did. */
    static boolean tryRetain(MemorySegment pool, long headerOffset, long generation) {
        for (;;) {
            long state = (long) STATE.getVolatile(pool, headerOffset + STATE_OFFSET);
            if (state >>> REFERENCE_BITS != generation || (state & REFERENCE_MASK) == REFERENCE_MASK) {
                return false;
            }
            if (STATE.compareAndSet(pool, headerOffset + STATE_OFFSET, state, state + 1)) {
                return true;
            }
        }
    }

    static void release(MemorySegment pool, long headerOffset) {
        STATE.getAndAdd(pool, headerOffset + STATE_OFFSET, -1L);
    }

    /** Retires the block's generation (no new references); returns the references still held. */
    static long retire(MemorySegment pool, long headerOffset) {
        for (;;) {
            long state = (long) STATE.getVolatile(pool, headerOffset + STATE_OFFSET);
            long references = state & REFERENCE_MASK;
            if (STATE.compareAndSet(pool, headerOffset + STATE_OFFSET, state, references)) {
                return references;
            }
        }
    }

    static long generation(MemorySegment pool, long headerOffset) {
        return (long) STATE.getVolatile(pool, headerOffset + STATE_OFFSET) >>> REFERENCE_BITS;
    }

    static long references(MemorySegment pool, long headerOffset) {
        return (long) STATE.getVolatile(pool, headerOffset + STATE_OFFSET) & REFERENCE_MASK;
    }

    static int magic(MemorySegment pool, long headerOffset) {
        return pool.get(JAVA_INT, headerOffset + MAGIC_OFFSET);
    }

    static long length(MemorySegment pool, long headerOffset) {
        return pool.get(JAVA_LONG, headerOffset + LENGTH_OFFSET);
    }
}
