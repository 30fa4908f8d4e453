package io.quarkiverse.modelsharing.dlpack;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorException;

/** DLPack through the C ABI: a small C library, built here with gcc, reads what Java exports and lends Java a tensor. */
class DLPackTest {

    static final String SOURCE = """
            #include <stdint.h>
            #include <stdlib.h>
            typedef struct { uint32_t major; uint32_t minor; } DLPackVersion;
            typedef struct { int32_t device_type; int32_t device_id; } DLDevice;
            typedef struct { uint8_t code; uint8_t bits; uint16_t lanes; } DLDataType;
            typedef struct { void *data; DLDevice device; int32_t ndim; DLDataType dtype;
                             int64_t *shape; int64_t *strides; uint64_t byte_offset; } DLTensor;
            typedef struct DLManagedTensorVersioned { DLPackVersion version; void *manager_ctx;
                void (*deleter)(struct DLManagedTensorVersioned *self); uint64_t flags; DLTensor dl_tensor; }
                DLManagedTensorVersioned;

            /* Sums a float32 CPU tensor, checking what a consumer must check; negative codes say what was wrong. */
            double qms_sum(DLManagedTensorVersioned *t) {
                DLTensor *d = &t->dl_tensor;
                if (t->version.major != 1) return -1;
                if (d->device.device_type != 1) return -2;
                if (d->dtype.code != 2 || d->dtype.bits != 32 || d->dtype.lanes != 1) return -3;
                int64_t n = 1;
                for (int i = 0; i < d->ndim; i++) n *= d->shape[i];
                if (d->ndim == 2 && (d->strides[0] != d->shape[1] || d->strides[1] != 1)) return -4;
                const float *data = (const float *) ((char *) d->data + d->byte_offset);
                double sum = 0;
                for (int64_t i = 0; i < n; i++) sum += data[i];
                return sum;
            }
            uint64_t qms_flags(DLManagedTensorVersioned *t) { return t->flags; }
            void qms_release(DLManagedTensorVersioned *t) { t->deleter(t); }

            static int deleted = 0;
            static void delete_made(DLManagedTensorVersioned *t) {
                free(t->dl_tensor.data); free(t->dl_tensor.shape); free(t); deleted++;
            }
            /* Makes an int32 tensor [n] holding 0..n-1, the way a native producer would. */
            DLManagedTensorVersioned *qms_make(int64_t n) {
                DLManagedTensorVersioned *t = calloc(1, sizeof *t);
                int32_t *data = malloc(n * sizeof *data);
                for (int64_t i = 0; i < n; i++) data[i] = (int32_t) i;
                t->version.major = 1; t->deleter = delete_made;
                t->dl_tensor.data = data; t->dl_tensor.device.device_type = 1; t->dl_tensor.ndim = 1;
                t->dl_tensor.dtype.code = 0; t->dl_tensor.dtype.bits = 32; t->dl_tensor.dtype.lanes = 1;
                t->dl_tensor.shape = malloc(sizeof(int64_t)); t->dl_tensor.shape[0] = n;
                return t;
            }
            int qms_deleted(void) { return deleted; }
            """;

    static Arena arena;
    static MethodHandle sum;
    static MethodHandle flags;
    static MethodHandle release;
    static MethodHandle make;
    static MethodHandle deleted;

    @BeforeAll
    static void buildTheCLibrary() throws Exception {
        Path dir = Files.createDirectories(Path.of("target", "dlpack-test").toAbsolutePath());
        Path source = Files.writeString(dir.resolve("qms_dlpack.c"), SOURCE);
        Path library = dir.resolve("libqms_dlpack.so");
        Process gcc = new ProcessBuilder("gcc", "-shared", "-fPIC", "-O2", "-o", library.toString(), source.toString())
                .redirectErrorStream(true).start();
        String output = new String(gcc.getInputStream().readAllBytes());
        assertTrue(gcc.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, gcc.exitValue(), "gcc failed: " + output);
        arena = Arena.ofShared();
        SymbolLookup lookup = SymbolLookup.libraryLookup(library, arena);
        Linker linker = Linker.nativeLinker();
        sum = linker.downcallHandle(lookup.find("qms_sum").orElseThrow(), FunctionDescriptor.of(JAVA_DOUBLE, ADDRESS));
        flags = linker.downcallHandle(lookup.find("qms_flags").orElseThrow(), FunctionDescriptor.of(JAVA_LONG, ADDRESS));
        release = linker.downcallHandle(lookup.find("qms_release").orElseThrow(), FunctionDescriptor.ofVoid(ADDRESS));
        make = linker.downcallHandle(lookup.find("qms_make").orElseThrow(), FunctionDescriptor.of(ADDRESS, JAVA_LONG));
        deleted = linker.downcallHandle(lookup.find("qms_deleted").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
    }

    @AfterAll
    static void unload() {
        arena.close();
    }

    @Test
    void nativeCodeReadsWhatJavaExported() throws Throwable {
        int before = DLPack.outstandingExports();
        Tensor tensor = Tensor.of(new float[] { 1, 2, 3, 4, 5, 6.5f }, 2, 3);
        MemorySegment managed = DLPack.export(tensor);
        tensor.close(); // the export holds its own reference: native code may outlive the producer's
        assertEquals(before + 1, DLPack.outstandingExports());
        assertEquals(21.5, (double) sum.invokeExact(managed), "C summed Java's memory in place");
        assertEquals(0L, (long) flags.invokeExact(managed));
        release.invokeExact(managed); // the consumer calls the deleter
        assertEquals(before, DLPack.outstandingExports(), "the deleter gave the reference back");
        try (Tensor source = Tensor.of(new float[] { 2, 2 }); Tensor readOnly = source.asReadOnly()) {
            MemorySegment flagged = DLPack.export(readOnly);
            assertEquals(DLPack.FLAG_READ_ONLY, (long) flags.invokeExact(flagged));
            release.invokeExact(flagged);
        }
    }

    @Test
    void javaImportsWhatNativeCodeMadeAndCallsItsDeleter() throws Throwable {
        int deletedBefore = (int) deleted.invokeExact();
        MemorySegment made = (MemorySegment) make.invokeExact(5L);
        Tensor imported = DLPack.importTensor(made);
        assertEquals(DType.I32, imported.dtype());
        assertArrayEquals(new int[] { 0, 1, 2, 3, 4 }, imported.toIntArray(), "Java reads C's memory");
        Tensor view = imported.slice(1, 3);
        imported.close();
        assertEquals(deletedBefore, (int) deleted.invokeExact(), "a view still holds the memory");
        assertArrayEquals(new int[] { 1, 2 }, view.toIntArray());
        view.close();
        assertEquals(deletedBefore + 1, (int) deleted.invokeExact(), "the last close called the producer's deleter");
    }

    @Test
    void unsupportedTensorsAreRefusedWithTheReason() throws Throwable {
        MemorySegment made = (MemorySegment) make.invokeExact(3L);
        MemorySegment struct = made.reinterpret(DLManagedTensorLayout.BYTES);
        struct.set(JAVA_INT, DLManagedTensorLayout.DEVICE_TYPE, 2); // kDLCUDA
        assertEquals("DLPack tensor is on device type 2; only CPU memory (1) can be imported",
                assertThrows(TensorException.class, () -> DLPack.importTensor(made)).getMessage());
        struct.set(JAVA_INT, DLManagedTensorLayout.DEVICE_TYPE, 1);
        struct.set(java.lang.foreign.ValueLayout.JAVA_SHORT, DLManagedTensorLayout.DTYPE_LANES, (short) 4);
        assertEquals("DLPack vector types (lanes 4) are not supported",
                assertThrows(TensorException.class, () -> DLPack.importTensor(made)).getMessage());
        release.invokeExact(made);
        try (Tensor heap = Tensor.allocateHeap(DType.F32, 2)) {
            assertEquals("DLPack shares native memory; Tensor[F32 [2] heap] is on the heap: copy it off heap first",
                    assertThrows(TensorException.class, () -> DLPack.export(heap)).getMessage());
        }
    }
}
