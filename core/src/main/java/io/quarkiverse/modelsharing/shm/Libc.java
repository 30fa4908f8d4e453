package io.quarkiverse.modelsharing.shm;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

import io.quarkiverse.modelsharing.ForeignCalls;

/**
 * The libc calls the JDK has no API for: memfds and their seals, mapping a file descriptor, reserving space with
 * {@code posix_fallocate} (so that a full tmpfs is an error code here and never a SIGBUS on a later write), and the
 * open-file-description locks that tell the janitor a named pool's owner is alive.
 */
final class Libc {

    static final int O_RDONLY = 0;
    static final int O_RDWR = 2;
    static final int O_CREAT = 0100;
    static final int O_EXCL = 0200;
    static final int O_CLOEXEC = 02000000;
    static final int O_NONBLOCK = 04000;
    static final int O_NOFOLLOW = 0400000;
    static final int ENOSPC = 28;
    static final int ENOENT = 2;
    static final int EINVAL = 22;

    static final int MFD_CLOEXEC = 1;
    static final int MFD_ALLOW_SEALING = 2;
    static final int F_ADD_SEALS = 1033;
    static final int F_GET_SEALS = 1034;
    static final int F_SEAL_SEAL = 1;
    static final int F_SEAL_SHRINK = 2;
    static final int F_SEAL_GROW = 4;
    private static final int F_DUPFD_CLOEXEC = 1030;

    private static final int PROT_READ = 1;
    private static final int PROT_WRITE = 2;
    private static final int MAP_SHARED = 1;
    private static final int SEEK_END = 2;
    private static final int F_OFD_GETLK = 36;
    private static final int F_OFD_SETLK = 37;
    private static final short F_WRLCK = 1;
    private static final short F_UNLCK = 2;
    /** {@code struct flock}: l_type (short) at 0, l_whence (short) at 2, l_start at 8, l_len at 16, l_pid at 24. */
    private static final long FLOCK_BYTES = 32;

    private static final MethodHandle OPEN = ForeignCalls.OPEN.link();
    private static final MethodHandle CLOSE = ForeignCalls.CLOSE.link();
    private static final MethodHandle POSIX_FALLOCATE = ForeignCalls.POSIX_FALLOCATE.link();
    private static final MethodHandle MEMFD_CREATE = ForeignCalls.MEMFD_CREATE.link();
    private static final MethodHandle FCNTL_INT = ForeignCalls.FCNTL_INT.link();
    private static final MethodHandle FCNTL_POINTER = ForeignCalls.FCNTL_POINTER.link();
    private static final MethodHandle MMAP = ForeignCalls.MMAP.link();
    private static final MethodHandle MUNMAP = ForeignCalls.MUNMAP.link();
    private static final MethodHandle LSEEK = ForeignCalls.LSEEK.link();

    private Libc() {
    }

    /** A new memfd that can be sealed, closed on exec; throws with errno if the kernel refuses one. */
    static int memfdCreate(String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = ForeignCalls.callState(arena);
            int fd = (int) MEMFD_CREATE.invokeExact(state, arena.allocateFrom(name), MFD_CLOEXEC | MFD_ALLOW_SEALING);
            if (fd < 0) {
                throw new SharedMemoryException("memfd_create failed with errno " + ForeignCalls.errno(state)
                        + ": this kernel or its seccomp policy refuses memfds");
            }
            return fd;
        } catch (SharedMemoryException e) {
            throw e;
        } catch (Throwable e) {
            throw new SharedMemoryException("calling memfd_create failed", e);
        }
    }

    /** Opens {@code file} with {@code flags} (and {@code mode} if it creates it); returns the fd or minus errno. */
    static int open(Path file, int flags, int mode) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = ForeignCalls.callState(arena);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(file.toString()), flags | O_CLOEXEC, mode);
            return fd >= 0 ? fd : -ForeignCalls.errno(state);
        } catch (Throwable e) {
            throw new SharedMemoryException("calling libc to open " + file + " failed", e);
        }
    }

    /** Reserves {@code size} bytes of the file; returns 0 or the errno. */
    static int fallocate(int fd, long size) {
        try {
            return (int) POSIX_FALLOCATE.invokeExact(fd, 0L, size);
        } catch (Throwable e) {
            throw new SharedMemoryException("calling posix_fallocate failed", e);
        }
    }

    static void addSeals(int fd, int seals) {
        int result = fcntl(fd, F_ADD_SEALS, seals);
        if (result < 0) {
            throw new SharedMemoryException("Cannot seal a shared-memory pool: errno " + -result);
        }
    }

    /** The seals of {@code fd}, or -1 if it is not a file that can carry seals (not a memfd). */
    static int seals(int fd) {
        int seals = fcntl(fd, F_GET_SEALS, 0);
        return seals < 0 ? -1 : seals;
    }

    /** The size of the file, read from its end. */
    static long size(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = ForeignCalls.callState(arena);
            long end = (long) LSEEK.invokeExact(state, fd, 0L, SEEK_END);
            if (end < 0) {
                throw new SharedMemoryException("Cannot read the size of a shared-memory pool: errno "
                        + ForeignCalls.errno(state));
            }
            return end;
        } catch (SharedMemoryException e) {
            throw e;
        } catch (Throwable e) {
            throw new SharedMemoryException("calling lseek failed", e);
        }
    }

    /**
     * Maps {@code size} bytes of {@code fd}, shared, read-write or read-only; closing {@code arena} unmaps them. A
     * read-only mapping cannot be written by this process at all: a stray write faults instead of changing a peer's
     * memory.
     */
    static MemorySegment map(int fd, long size, boolean writable, Arena arena) {
        long address;
        try (Arena call = Arena.ofConfined()) {
            MemorySegment state = ForeignCalls.callState(call);
            MemorySegment mapped = (MemorySegment) MMAP.invokeExact(state, MemorySegment.NULL, size,
                    writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0L);
            address = mapped.address();
            if (address == -1L) {
                throw new SharedMemoryException("Cannot map a " + size + "-byte shared-memory pool: errno "
                        + ForeignCalls.errno(state));
            }
        } catch (SharedMemoryException e) {
            throw e;
        } catch (Throwable e) {
            throw new SharedMemoryException("calling mmap failed", e);
        }
        return MemorySegment.ofAddress(address).reinterpret(size, arena, segment -> unmap(address, size));
    }

    private static void unmap(long address, long size) {
        try {
            int ignored = (int) MUNMAP.invokeExact(MemorySegment.ofAddress(address), size);
        } catch (Throwable e) {
            throw new SharedMemoryException("calling munmap failed", e);
        }
    }

    /**
     * Takes a write lock on the whole file for this open file description (an OFD lock: it is not released when some
     * other descriptor of the file closes, and it means the same in every PID namespace); returns whether it got it.
     */
    static boolean tryLock(int fd) {
        return lockCall(fd, F_OFD_SETLK, F_WRLCK) == 0;
    }

    /** Whether an open file description other than {@code fd}'s holds a lock on the file: its owner lives. */
    static boolean isLockedByAnother(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment lock = flock(arena, F_WRLCK);
            MemorySegment state = ForeignCalls.callState(arena);
            int result = (int) FCNTL_POINTER.invokeExact(state, fd, F_OFD_GETLK, lock);
            if (result < 0) {
                throw new SharedMemoryException("Cannot test the lock of a pool file: errno " + ForeignCalls.errno(state));
            }
            return lock.get(JAVA_SHORT, 0) != F_UNLCK;
        } catch (SharedMemoryException e) {
            throw e;
        } catch (Throwable e) {
            throw new SharedMemoryException("calling fcntl failed", e);
        }
    }

    private static int lockCall(int fd, int command, short type) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = ForeignCalls.callState(arena);
            int result = (int) FCNTL_POINTER.invokeExact(state, fd, command, flock(arena, type));
            return result < 0 ? -ForeignCalls.errno(state) : result;
        } catch (Throwable e) {
            throw new SharedMemoryException("calling fcntl failed", e);
        }
    }

    private static MemorySegment flock(Arena arena, short type) {
        MemorySegment lock = arena.allocate(FLOCK_BYTES, 8); // zeroed: whence SEEK_SET, start 0, length 0 (all), pid 0
        lock.set(JAVA_SHORT, 0, type);
        lock.set(JAVA_LONG, 8, 0L);
        lock.set(JAVA_INT, 24, 0);
        return lock;
    }

    private static int fcntl(int fd, int command, int argument) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = ForeignCalls.callState(arena);
            int result = (int) FCNTL_INT.invokeExact(state, fd, command, argument);
            return result < 0 ? -ForeignCalls.errno(state) : result;
        } catch (Throwable e) {
            throw new SharedMemoryException("calling fcntl failed", e);
        }
    }

    /** A second descriptor of the same open file, closed on exec. */
    static int duplicate(int fd) {
        int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (copy < 0) {
            throw new SharedMemoryException("Cannot duplicate a shared-memory pool's descriptor: errno " + -copy);
        }
        return copy;
    }

    static void close(int fd) {
        try {
            int ignored = (int) CLOSE.invokeExact(fd);
        } catch (Throwable e) {
            throw new SharedMemoryException("calling close failed", e);
        }
    }
}
