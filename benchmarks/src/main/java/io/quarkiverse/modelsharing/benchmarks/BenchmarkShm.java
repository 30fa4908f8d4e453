package io.quarkiverse.modelsharing.benchmarks;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;

import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;

/**
 * A private shared-memory root under /dev/shm for one benchmark trial, removed with everything in it, and a pool: memfds
 * as applications have by default, or named files, which another JVM can open from a descriptor without a connection.
 */
final class BenchmarkShm implements AutoCloseable {

    final Path root;
    final SharedMemoryPool pool;

    BenchmarkShm(long poolFileBytes, long maxBytes) throws IOException {
        this(poolFileBytes, maxBytes, false);
    }

    BenchmarkShm(long poolFileBytes, long maxBytes, boolean namedFiles) throws IOException {
        root = Files.createDirectory(Path.of("/dev/shm", "qms-bench-" + UUID.randomUUID()));
        pool = SharedMemoryPool.open(new SharedMemorySettings(root, poolFileBytes, maxBytes, Duration.ofSeconds(1),
                namedFiles));
    }

    @Override
    public void close() throws IOException {
        pool.close();
        try (Stream<Path> tree = Files.walk(root)) {
            tree.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
    }
}
