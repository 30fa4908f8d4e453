package io.quarkiverse.modelsharing.runtime.eventbus;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;

/**
 * A tensor sent on a clustered event bus (plain Vert.x with Hazelcast, two JVMs on loopback) travels as a
 * shared-memory descriptor, not as its bytes, and the receiver reads the sender's memory.
 */
class ClusteredEventBusTest {

    @Test
    void aTensorCrossesTheClusterAsADescriptor() throws Exception {
        Path root = Files.createDirectory(Path.of("/dev/shm", "qms-cluster-test-" + UUID.randomUUID()));
        String cluster = "qms-test-" + UUID.randomUUID();
        Process child = null;
        SharedMemorySettings settings = new SharedMemorySettings(root, 1 << 20, 8 << 20, Duration.ofSeconds(1), true);
        try (SharedMemoryPool pool = SharedMemoryPool.open(settings)) {
            child = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                    "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + System.getProperty("java.io.tmpdir"),
                    "-cp", System.getProperty("java.class.path"),
                    ClusterNode.class.getName(), cluster, root.toString())
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            BufferedReader childOut = new BufferedReader(new InputStreamReader(child.getInputStream()));
            Vertx vertx = ClusterNode.start(cluster, 5801, pool);
            try {
                assertEquals("ready", childOut.readLine());
                try (Tensor tensor = pool.allocate(DType.F32, 1000)) {
                    for (int i = 0; i < 1000; i++) {
                        tensor.setFloat(i, i);
                    }
                    io.vertx.core.buffer.Buffer wire = io.vertx.core.buffer.Buffer.buffer();
                    new TensorMessageCodec().encodeToWire(wire, tensor);
                    assertTrue(wire.length() < 100, "on the wire: " + wire.length() + " bytes for a 4000-byte tensor");
                    String reply = vertx.eventBus()
                            .<String> request("tensors", tensor, new DeliveryOptions().setSendTimeout(30_000))
                            .toCompletionStage().toCompletableFuture().get(60, TimeUnit.SECONDS).body();
                    assertEquals("SHARED true 499500.0", reply, "the other JVM read our shared memory, read-only");
                }
            } finally {
                vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
            }
        } finally {
            if (child != null) {
                child.getOutputStream().close(); // tells the child to leave
                if (!child.waitFor(30, TimeUnit.SECONDS)) {
                    child.destroyForcibly();
                }
            }
            deleteTree(root);
        }
    }

    static void deleteTree(Path root) throws IOException {
        try (Stream<Path> tree = Files.walk(root)) {
            tree.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
    }
}
