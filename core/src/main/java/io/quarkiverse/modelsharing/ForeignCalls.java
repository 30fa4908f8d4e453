package io.quarkiverse.modelsharing;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.util.List;

/**
 * Every call between Java and C that this library makes through the FFM API, defined once: the classes that make
 * the calls link them from here, and ahead-of-time compilers (a native image must know each downcall and upcall, with
 * its linker options, at build time) register them from here. Reading the definitions links nothing.
 */
public final class ForeignCalls {

    /** {@code void* aligned_alloc(size_t alignment, size_t size)}: off-heap tensors. */
    public static final Downcall ALIGNED_ALLOC = new Downcall("aligned_alloc", FunctionDescriptor.of(ADDRESS, JAVA_LONG,
            JAVA_LONG));
    /** {@code void free(void*)}. */
    public static final Downcall FREE = new Downcall("free", FunctionDescriptor.ofVoid(ADDRESS));
    /** {@code int open(const char*, int, ...)} with the mode as its one variadic argument, keeping errno. */
    public static final Downcall OPEN = new Downcall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2), Linker.Option.captureCallState("errno"));
    /** {@code int close(int)}. */
    public static final Downcall CLOSE = new Downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    /** {@code int posix_fallocate(int, off_t, off_t)}: shared-memory pool files reserve their space before mapping. */
    public static final Downcall POSIX_FALLOCATE = new Downcall("posix_fallocate", FunctionDescriptor.of(JAVA_INT,
            JAVA_INT, JAVA_LONG, JAVA_LONG));
    /** {@code int memfd_create(const char*, unsigned)}: shared-memory pools that the kernel frees with their last holder. */
    public static final Downcall MEMFD_CREATE = new Downcall("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS,
            JAVA_INT), Linker.Option.captureCallState("errno"));
    /** {@code int fcntl(int, int, ...)} with an int argument: adding and reading a memfd's seals. */
    public static final Downcall FCNTL_INT = new Downcall("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT,
            JAVA_INT), Linker.Option.firstVariadicArg(2), Linker.Option.captureCallState("errno"));
    /** {@code int fcntl(int, int, ...)} with a pointer argument: the open-file-description locks of named pool files. */
    public static final Downcall FCNTL_POINTER = new Downcall("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT,
            ADDRESS), Linker.Option.firstVariadicArg(2), Linker.Option.captureCallState("errno"));
    /** {@code void* mmap(void*, size_t, int, int, int, off_t)}: maps a pool from its descriptor. */
    public static final Downcall MMAP = new Downcall("mmap", FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT,
            JAVA_INT, JAVA_INT, JAVA_LONG), Linker.Option.captureCallState("errno"));
    /** {@code int munmap(void*, size_t)}. */
    public static final Downcall MUNMAP = new Downcall("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    /** {@code off_t lseek(int, off_t, int)}: the size of a pool that a peer sent. */
    public static final Downcall LSEEK = new Downcall("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG,
            JAVA_INT), Linker.Option.captureCallState("errno"));
    /** {@code int socket(int, int, int)}: the worker protocol's Unix sockets, which carry pools as descriptors. */
    public static final Downcall SOCKET = new Downcall("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT,
            JAVA_INT), Linker.Option.captureCallState("errno"));
    /** {@code int connect(int, const struct sockaddr*, socklen_t)}. */
    public static final Downcall CONNECT = new Downcall("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS,
            JAVA_INT), Linker.Option.captureCallState("errno"));
    /** {@code int bind(int, const struct sockaddr*, socklen_t)}. */
    public static final Downcall BIND = new Downcall("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT),
            Linker.Option.captureCallState("errno"));
    /** {@code int listen(int, int)}. */
    public static final Downcall LISTEN = new Downcall("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT),
            Linker.Option.captureCallState("errno"));
    /** {@code int accept4(int, struct sockaddr*, socklen_t*, int)}. */
    public static final Downcall ACCEPT4 = new Downcall("accept4", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS,
            ADDRESS, JAVA_INT), Linker.Option.captureCallState("errno"));
    /** {@code ssize_t sendmsg(int, const struct msghdr*, int)}: frames, with a pool's descriptor attached (SCM_RIGHTS). */
    public static final Downcall SENDMSG = new Downcall("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS,
            JAVA_INT), Linker.Option.captureCallState("errno"));
    /** {@code ssize_t recvmsg(int, struct msghdr*, int)}. */
    public static final Downcall RECVMSG = new Downcall("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS,
            JAVA_INT), Linker.Option.captureCallState("errno"));
    /** {@code int shutdown(int, int)}: wakes the threads blocked on a socket that is being closed. */
    public static final Downcall SHUTDOWN = new Downcall("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    /** {@code int getsockopt(int, int, int, void*, socklen_t*)}: the peer's credentials (SO_PEERCRED). */
    public static final Downcall GETSOCKOPT = new Downcall("getsockopt", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT,
            JAVA_INT, ADDRESS, ADDRESS), Linker.Option.captureCallState("errno"));
    /** {@code int poll(struct pollfd*, nfds_t, int)}: read timeouts, and the flusher of stalled peers' output. */
    public static final Downcall POLL = new Downcall("poll", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT),
            Linker.Option.captureCallState("errno"));
    /** A DLPack deleter, {@code void (*)(DLManagedTensorVersioned*)}, called through the pointer in the struct. */
    public static final Downcall DLPACK_DELETER = new Downcall(null, FunctionDescriptor.ofVoid(ADDRESS));
    /** Our own DLPack deleter, which C code calls back into Java. */
    public static final FunctionDescriptor DLPACK_DELETER_UPCALL = FunctionDescriptor.ofVoid(ADDRESS);

    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private ForeignCalls() {
    }

    /** Room for the errno that a call linked with {@code captureCallState("errno")} leaves; pass it first. */
    public static MemorySegment callState(Arena arena) {
        return arena.allocate(CALL_STATE);
    }

    /** The errno captured in {@code state}. */
    public static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    public static List<Downcall> downcalls() {
        return List.of(ALIGNED_ALLOC, FREE, OPEN, CLOSE, POSIX_FALLOCATE, MEMFD_CREATE, FCNTL_INT, FCNTL_POINTER, MMAP,
                MUNMAP, LSEEK, SOCKET, CONNECT, BIND, LISTEN, ACCEPT4, SENDMSG, RECVMSG, SHUTDOWN, GETSOCKOPT,
                POLL, DLPACK_DELETER);
    }

    public static List<FunctionDescriptor> upcalls() {
        return List.of(DLPACK_DELETER_UPCALL);
    }

    /**
     * A C function's signature and linker options.
     *
     * @param symbol the function's name in the C library, or {@code null} for one called through a pointer
     */
    public record Downcall(String symbol, FunctionDescriptor descriptor, Linker.Option... options) {

        /** A method handle for the function: bound to the C library's symbol, or taking the function's address first. */
        public MethodHandle link() {
            Linker linker = Linker.nativeLinker();
            if (symbol == null) {
                return linker.downcallHandle(descriptor, options);
            }
            return linker.downcallHandle(linker.defaultLookup().find(symbol)
                    .orElseThrow(() -> new IllegalStateException("The C library has no " + symbol + "()")), descriptor,
                    options);
        }
    }
}
