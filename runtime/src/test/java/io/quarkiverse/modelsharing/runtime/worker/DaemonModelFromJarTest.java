package io.quarkiverse.modelsharing.runtime.worker;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.OutputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.worker.SharedWorkerDaemon;

/**
 * A model that is a classpath resource inside a dependency jar, served by the shared Dev Services daemon, whose class
 * path does not have the application's jars: the application names the jar's entry, which the daemon reads. A
 * resource that is nowhere fails with the loader it was looked for in.
 */
class DaemonModelFromJarTest {

    static final Duration TIMEOUT = Duration.ofSeconds(30);

    @Test
    void aModelInADependencyJarIsServedByTheSharedDaemon() throws Exception {
        Path jar = Path.of("target", "daemon-model-from-jar.jar").toAbsolutePath();
        try (OutputStream file = Files.newOutputStream(jar); JarOutputStream out = new JarOutputStream(file)) {
            out.putNextEntry(new JarEntry("models/affine model.onnx")); // a space: %20 in its URL
            out.write(TinyModels.affine());
            out.closeEntry();
        }
        ClassLoader previous = Thread.currentThread().getContextClassLoader();
        // a short root of this test's own: a test root's longer path would not fit a socket address
        Path root = Files.createDirectories(Path.of("/dev/shm", "qms-jar-" + ProcessHandle.current().pid()));
        try (URLClassLoader dependency = new URLClassLoader(new URL[] { jar.toUri().toURL() }, previous)) {
            Thread.currentThread().setContextClassLoader(dependency);
            Path socket = SharedWorkerDaemon.socketUnder(root);
            try (WorkerPool pool = WorkerPool.sharedDaemon(socket, Duration.ofSeconds(10), TensorAllocator.offHeap(),
                    TIMEOUT, Map.of("affine", "classpath:models/affine model.onnx"), Map.of(), Duration.ofSeconds(5),
                    TIMEOUT)) {
                float[] row = { 1, 2, 3, 4 };
                try (Tensor x = Tensor.of(row, 1, 4);
                        InferenceResult result = pool.connection().client().infer(pool.remoteName("affine"),
                                Map.of("x", x), TIMEOUT)) {
                    assertArrayEquals(TinyModels.expectedAffine(row, TinyModels.BIAS), result.get("y").toFloatArray());
                }
                List<ProcessHandle> daemons = daemonsUnder(root);
                assertEquals(1, daemons.size(), "the pool started one daemon, whose class path has not the jar");
                assertNotEquals(session(ProcessHandle.current().pid()), session(daemons.get(0).pid()),
                        "in a session of its own: a Ctrl+C in this process's terminal does not reach it");
                String entry = "jar:file:/opt/models.jar!/m.onnx";
                assertEquals(entry, WorkerPool.resolve(entry), "a jar entry configured as such goes to workers as it is");
                ModelSharingException missing = assertThrows(ModelSharingException.class,
                        () -> WorkerPool.sharedDaemon(socket, Duration.ofSeconds(10), TensorAllocator.offHeap(), TIMEOUT,
                                Map.of("gone", "classpath:models/gone.onnx"), Map.of(), Duration.ofSeconds(5), TIMEOUT));
                assertEquals("Model resource models/gone.onnx is not on the application's class path (searched "
                        + dependency + "): add the jar or directory that has it, or configure a file path",
                        missing.getMessage());
            } finally {
                stopDaemonsStartedHere(root);
            }
        } finally {
            Thread.currentThread().setContextClassLoader(previous);
            Files.deleteIfExists(jar);
            try (Stream<Path> tree = Files.walk(root)) {
                tree.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }

    /** The session id of process {@code pid}: the sixth field of /proc/pid/stat, after its parenthesised name. */
    private static String session(long pid) throws java.io.IOException {
        String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        return stat.substring(stat.lastIndexOf(')') + 2).split(" ")[3];
    }

    /** The daemons under {@code root} that this test's pool started, children of this JVM. */
    private static List<ProcessHandle> daemonsUnder(Path root) {
        return ProcessHandle.current().children().filter(child -> child.info().arguments()
                .map(arguments -> String.join(" ", arguments).contains(root.toString())).orElse(false)).toList();
    }

    private static void stopDaemonsStartedHere(Path root) {
        for (ProcessHandle daemon : daemonsUnder(root)) {
            daemon.destroy();
            daemon.onExit().orTimeout(10, TimeUnit.SECONDS).join();
        }
    }
}
