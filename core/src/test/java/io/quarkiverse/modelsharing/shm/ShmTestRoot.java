package io.quarkiverse.modelsharing.shm;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.UUID;
import java.util.stream.Stream;

/** A private root under /dev/shm for one test class, removed with everything in it when the test closes it. */
final class ShmTestRoot implements AutoCloseable {

    final Path root;

    ShmTestRoot() {
        try {
            root = Files.createDirectory(Path.of("/dev/shm", "qms-test-" + UUID.randomUUID()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Memfd pools. */
    SharedMemorySettings settings(long poolFileBytes, long maxBytes) {
        return new SharedMemorySettings(root, poolFileBytes, maxBytes, Duration.ofMillis(200));
    }

    /** Named pool files under this root, swept every 200 ms. */
    SharedMemorySettings namedSettings(long poolFileBytes, long maxBytes) {
        return settings(poolFileBytes, maxBytes).withNamedFiles(true);
    }

    long poolFiles() {
        try (Stream<Path> files = Files.list(root.resolve("quarkus-model-sharing-" + PrivateDirectory.uid()))) {
            return files.count();
        } catch (IOException e) {
            return 0;
        }
    }

    @Override
    public void close() {
        try (Stream<Path> tree = Files.walk(root)) {
            tree.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
