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

/** A private shared-memory root under /dev/shm for one benchmark trial, removed with everything in it. */
final class BenchmarkShm implements AutoCloseable {

    final Path root;
    final SharedMemoryPool pool;

    BenchmarkShm(long poolFileBytes, long maxBytes) throws IOException {
        root = Files.createDirectory(Path.of("/dev/shm", "qms-bench-" + UUID.randomUUID()));
        pool = SharedMemoryPool.open(new SharedMemorySettings(root, poolFileBytes, maxBytes, Duration.ofSeconds(1)));
    }

    @Override
    public void close() throws IOException {
        pool.close();
        try (Stream<Path> tree = Files.walk(root)) {
            tree.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
    }
}
