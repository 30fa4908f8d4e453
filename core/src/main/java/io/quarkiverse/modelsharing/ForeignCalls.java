package io.quarkiverse.modelsharing;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;
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
    /** A DLPack deleter, {@code void (*)(DLManagedTensorVersioned*)}, called through the pointer in the struct. */
    public static final Downcall DLPACK_DELETER = new Downcall(null, FunctionDescriptor.ofVoid(ADDRESS));
    /** Our own DLPack deleter, which C code calls back into Java. */
    public static final FunctionDescriptor DLPACK_DELETER_UPCALL = FunctionDescriptor.ofVoid(ADDRESS);

    private ForeignCalls() {
    }

    public static List<Downcall> downcalls() {
        return List.of(ALIGNED_ALLOC, FREE, OPEN, CLOSE, POSIX_FALLOCATE, DLPACK_DELETER);
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
