package io.quarkiverse.modelsharing.deployment;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Model files under target/ for tests whose models must be files a worker process can read. */
final class TestModelFiles {

    private TestModelFiles() {
    }

    static Path write(String name, byte[] model) {
        try {
            return Files.write(Path.of("target", name).toAbsolutePath(), model);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
