package io.quarkiverse.modelsharing.shm;

import java.lang.foreign.Arena;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

import io.quarkiverse.modelsharing.ForeignCalls;

/**
 * The libc calls the JDK has no API for: creating a file with exact permissions and reserving its space with
 * {@code posix_fallocate}, so that a full tmpfs is an error code here and never a SIGBUS on a later write.
 */
final class Libc {

    static final int O_RDWR = 2;
    static final int O_CREAT = 0100;
    static final int O_EXCL = 0200;
    static final int O_CLOEXEC = 02000000;
    static final int ENOSPC = 28;

    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final MethodHandle OPEN;
    private static final MethodHandle CLOSE;
    private static final MethodHandle POSIX_FALLOCATE;

    static {
        OPEN = ForeignCalls.OPEN.link();
        CLOSE = ForeignCalls.CLOSE.link();
        POSIX_FALLOCATE = ForeignCalls.POSIX_FALLOCATE.link();
    }

    private Libc() {
    }

    /**
     * Creates {@code file} (which must not exist) with {@code mode}, reserves {@code size} bytes, and closes it.
     *
     * @return 0, or the errno of the first call that failed
     */
    static int createReserved(Path file, int mode, long size) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) OPEN.invokeExact(state, arena.allocateFrom(file.toString()), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
                    mode);
            if (fd < 0) {
                return (int) ERRNO.get(state, 0L);
            }
            int error = (int) POSIX_FALLOCATE.invokeExact(fd, 0L, size);
            int closed = (int) CLOSE.invokeExact(fd);
            return error != 0 ? error : closed;
        } catch (Throwable e) {
            throw new SharedMemoryException("calling libc to create " + file + " failed", e);
        }
    }
}
