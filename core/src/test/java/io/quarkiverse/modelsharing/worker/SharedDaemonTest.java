package io.quarkiverse.modelsharing.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.protocol.Frame;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.shm.PrivateDirectory;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.ShmTestRoots;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * The shared daemon Dev Services start: models registered by the applications that ask for them, one daemon per
 * socket, and an exit once its last client is gone.
 */
class SharedDaemonTest {

    @Test
    void aDynamicDaemonServesWhatItIsAskedForAndLeavesWithItsLastClient() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create()) {
            Path model = Files.write(shm.root.resolve("affine.onnx"), TinyModels.affine());
            Path socket = shm.root.resolve("daemon.sock");
            Process daemon = startDynamicDaemon(Path.of(System.getProperty("java.io.tmpdir")), socket, shm.root);
            try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(1 << 20, 8 << 20))) {
                assertEquals("worker worker listening on " + socket,
                        new BufferedReader(new InputStreamReader(daemon.getInputStream())).readLine());
                try (ModelRegistry other = ModelRegistry.builder().build()) {
                    ModelSharingException twice = assertThrows(ModelSharingException.class, () -> WorkerServer.start(
                            new WorkerSettings(socket, Set.of(), 1, 1, Duration.ofSeconds(1), "second"), other, pool));
                    assertEquals("Another worker already listens on " + socket + "; use it, or give this one another socket",
                            twice.getMessage());
                }
                try (WorkerClient client = WorkerClient.connect(socket, pool, "app");
                        Tensor x = Tensor.of(new float[] { 1, 2, 3, 4 }, 1, 4)) {
                    client.load("affine=" + model, Duration.ofSeconds(30));
                    try (InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(30))) {
                        assertArrayEquals(TinyModels.expectedAffine(new float[] { 1, 2, 3, 4 }, TinyModels.BIAS),
                                result.get("y").toFloatArray());
                    }
                    Thread.sleep(1500);
                    assertTrue(daemon.isAlive(), "a daemon with a client stays");
                }
                assertTrue(daemon.waitFor(5, TimeUnit.SECONDS), "the daemon left with its last client");
                assertEquals(0, daemon.exitValue());
                assertFalse(Files.exists(socket), "and took its socket with it");
            } finally {
                daemon.destroyForcibly();
                daemon.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void aDaemonLoadsOnnxRuntimeFromTheUsersSharedCopyAndLeavesNoUnpackedCopyBehind() throws Exception {
        Path tmp = Files.createTempDirectory("daemon-tmp-");
        try (ShmTestRoots.Root shm = ShmTestRoots.create()) {
            Path model = Files.write(shm.root.resolve("affine.onnx"), TinyModels.affine());
            Path socket = shm.root.resolve("daemon.sock");
            Process daemon = startDynamicDaemon(tmp, socket, shm.root);
            try (SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(1 << 20, 8 << 20))) {
                new BufferedReader(new InputStreamReader(daemon.getInputStream())).readLine();
                try (WorkerClient client = WorkerClient.connect(socket, pool, "app")) {
                    client.load("affine=" + model, Duration.ofSeconds(30));
                    Path shared = PrivateDirectory.ofUser(tmp);
                    List<String> libraries = Files.readAllLines(Path.of("/proc", Long.toString(daemon.pid()), "maps"))
                            .stream().filter(line -> line.endsWith("/" + System.mapLibraryName("onnxruntime")))
                            .map(line -> line.substring(line.indexOf('/'))).distinct().toList();
                    assertEquals(1, libraries.size(), libraries.toString());
                    assertTrue(libraries.get(0).startsWith(shared + "/onnxruntime-"), libraries.get(0));
                }
                assertTrue(daemon.waitFor(10, TimeUnit.SECONDS), "the daemon left with its last client");
                assertEquals(0, daemon.exitValue());
                try (Stream<Path> left = Files.list(tmp)) {
                    assertEquals(List.of(), left.map(path -> path.getFileName().toString())
                            .filter(name -> name.startsWith("onnxruntime-java")).toList(),
                            "ONNX Runtime's own unpacking directory is gone with the process");
                }
            } finally {
                daemon.destroyForcibly();
                daemon.waitFor(10, TimeUnit.SECONDS);
            }
        } finally {
            try (Stream<Path> tree = Files.walk(tmp)) {
                tree.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }

    /** A worker daemon that registers what its clients ask for and exits a second after its last client left. */
    private static Process startDynamicDaemon(Path tmp, Path socket, Path shmRoot) throws IOException {
        return new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + tmp,
                "-cp", System.getProperty("java.class.path"), WorkerMain.class.getName(), "--socket", socket.toString(),
                "--dynamic-models", "--exit-when-idle", "1s", "--shm-dir", shmRoot.toString(), "--shm-pool-file", "1M")
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    @Test
    void aFixedWorkerRefusesToRegisterModels() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create();
                ModelRegistry registry = ModelRegistry.builder().build();
                SharedMemoryPool pool = SharedMemoryPool.open(shm.settings(1 << 20, 8 << 20))) {
            Path socket = shm.root.resolve("fixed.sock");
            try (WorkerServer server = WorkerServer.start(new WorkerSettings(socket, Set.of(), 1, 4, Duration.ofSeconds(5),
                    "fixed"), registry, pool); WorkerClient client = WorkerClient.connect(socket, pool, "app")) {
                WorkerException refused = assertThrows(WorkerException.class,
                        () -> client.load("affine=/models/affine.onnx", Duration.ofSeconds(5)));
                assertEquals(Frame.ErrorCode.UNKNOWN_MODEL, refused.code());
                assertEquals("Worker 'fixed' serves only the models it was started with; it cannot register"
                        + " affine=/models/affine.onnx", refused.getMessage());
            }
        }
    }
}
