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
import java.util.concurrent.CountDownLatch;
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
 * socket, and an exit once it is idle and no process that connected to it still runs.
 */
class SharedDaemonTest {

    /** The daemons' idle period: short, so that staying past a few of them takes a test no time. */
    static final Duration IDLE = Duration.ofMillis(500);

    @Test
    void aDynamicDaemonServesWhatItIsAskedForAndStaysWhileItsClientRuns() throws Exception {
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
                    // locations it cannot read are answered, and the connection goes on
                    WorkerException notAFile = assertThrows(WorkerException.class,
                            () -> client.load("bad=jar:jrt:/java.base!/a", Duration.ofSeconds(30)));
                    assertEquals(Frame.ErrorCode.LOAD_FAILED, notAFile.code());
                    assertEquals("A jar entry is named jar:file:/path/to/file.jar!/path/in/jar, not jar:jrt:/java.base!/a:"
                            + " the jar must be a file: URI", notAFile.getMessage());
                    try (InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(30))) {
                        assertArrayEquals(TinyModels.expectedAffine(new float[] { 1, 2, 3, 4 }, TinyModels.BIAS),
                                result.get("y").toFloatArray());
                    }
                }
                // Disconnected, but this process that used it still runs: it stays past three idle periods, and answers.
                assertFalse(daemon.waitFor(3 * IDLE.toMillis(), TimeUnit.MILLISECONDS),
                        "a daemon whose client process still runs stays, connected or not");
                try (WorkerClient again = WorkerClient.connect(socket, pool, "app, later")) {
                    assertTrue(again.status(Duration.ofSeconds(5)).get("models").contains("affine"),
                            "and still serves what it registered");
                }
                daemon.destroy();
                assertTrue(daemon.waitFor(10, TimeUnit.SECONDS), "a stopped daemon leaves");
                assertFalse(Files.exists(socket), "and takes its socket with it");
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
                daemon.destroy(); // this process used it, so it would stay while the test runs
                assertTrue(daemon.waitFor(10, TimeUnit.SECONDS), "a stopped daemon leaves");
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

    @Test
    void aDaemonLeavesOnceNoProcessThatConnectedRuns() throws Exception {
        try (ShmTestRoots.Root shm = ShmTestRoots.create()) {
            Path socket = shm.root.resolve("daemon.sock");
            Process daemon = startDynamicDaemon(Path.of(System.getProperty("java.io.tmpdir")), socket, shm.root);
            Process client = null;
            try {
                BufferedReader daemonOut = new BufferedReader(new InputStreamReader(daemon.getInputStream()));
                assertEquals("worker worker listening on " + socket, daemonOut.readLine());
                // This JVM never connects: only the client JVM, which says hello once and then waits, keeps the daemon.
                client = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                        "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                        OnceConnectedClient.class.getName(), socket.toString())
                        .redirectError(ProcessBuilder.Redirect.INHERIT).start();
                assertEquals("connected", new BufferedReader(new InputStreamReader(client.getInputStream())).readLine());
                assertFalse(daemon.waitFor(3 * IDLE.toMillis(), TimeUnit.MILLISECONDS),
                        "with no connection, the daemon stays while a process that connected runs");
                client.destroyForcibly(); // SIGKILL: the client says nothing to the daemon
                assertTrue(client.waitFor(10, TimeUnit.SECONDS));
                assertTrue(daemon.waitFor(10 * IDLE.toMillis(), TimeUnit.MILLISECONDS),
                        "the daemon leaves once the last process that used it is gone");
                assertEquals(0, daemon.exitValue(), "by itself, not killed");
                assertFalse(Files.exists(socket), "and takes its socket with it");
            } finally {
                if (client != null) {
                    client.destroyForcibly();
                    client.waitFor(10, TimeUnit.SECONDS);
                }
                daemon.destroyForcibly();
                daemon.waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** A client process: connects to the worker at {@code args[0]} once, says so, and waits until it is killed. */
    public static final class OnceConnectedClient {
        public static void main(String[] args) throws Exception {
            WorkerClient.connect(Path.of(args[0]), io.quarkiverse.modelsharing.tensor.TensorAllocator.offHeap(), "once")
                    .close();
            System.out.println("connected");
            System.out.flush();
            new CountDownLatch(1).await();
        }
    }

    /** A worker daemon that registers what its clients ask for and exits when idle for {@link #IDLE}. */
    private static Process startDynamicDaemon(Path tmp, Path socket, Path shmRoot) throws IOException {
        return new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"),
                "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + tmp,
                "-cp", System.getProperty("java.class.path"), WorkerMain.class.getName(), "--socket", socket.toString(),
                "--dynamic-models", "--exit-when-idle", IDLE.toMillis() + "ms", "--shm-dir", shmRoot.toString(),
                "--shm-pool-file", "1M")
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
