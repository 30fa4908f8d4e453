package io.quarkiverse.modelsharing.benchmarks;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * Writing a 256 MiB tensor: into a block of a pre-faulted pool (allocate, copy, close, as a producer does), against
 * {@code MemorySegment.copy} between two off-heap segments (the machine's memcpy), and against writing the same
 * bytes into a fresh, never-touched tmpfs file (what a file per tensor would cost).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class PoolWriteBenchmark {

    static final long BYTES = 256L << 20;

    private BenchmarkShm shm;
    private SharedMemoryPool pool;
    private Arena arena;
    private MemorySegment source;
    private MemorySegment target;
    private long fresh;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        shm = new BenchmarkShm(BYTES + (1 << 20), 2 * BYTES + (2 << 20));
        pool = shm.pool;
        arena = Arena.ofShared();
        source = arena.allocate(BYTES, 64);
        target = arena.allocate(BYTES, 64);
        source.fill((byte) 7);
        target.fill((byte) 0);
        pool.allocateUninitialized(DType.U8, BYTES).close(); // creates and pre-faults the pool file
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        arena.close();
        shm.close();
    }

    @Benchmark
    public long oursIntoPool() {
        try (Tensor tensor = pool.allocateUninitialized(DType.U8, BYTES)) {
            MemorySegment.copy(source, 0, tensor.segment(), 0, BYTES);
            return tensor.byteSize();
        }
    }

    @Benchmark
    public long baselineMemcpyOffHeap() {
        MemorySegment.copy(source, 0, target, 0, BYTES);
        return BYTES;
    }

    @Benchmark
    public long baselineFreshTmpfsFile() throws IOException {
        Path file = shm.root.resolve("fresh-" + fresh++);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE); Arena mapping = Arena.ofConfined()) {
            channel.truncate(BYTES);
            MemorySegment mapped = channel.map(FileChannel.MapMode.READ_WRITE, 0, BYTES, mapping);
            MemorySegment.copy(source, 0, mapped, 0, BYTES);
        } finally {
            Files.delete(file);
        }
        return BYTES;
    }
}
