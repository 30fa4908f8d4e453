package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.worker.WorkerUnavailableException;
import io.quarkus.test.QuarkusUnitTest;

/**
 * A lazy model placed in workers whose first call comes well after the Dev Services daemon's linger: the daemon stays
 * while the application that registered with it at build time runs, and is started again when it is gone. The daemon
 * runs under a shared-memory root of this test's own, so that the test starts, and stops, a daemon of its own.
 */
class DevServicesLazyModelTest {

    /**
     * The daemon's linger, and how long after start the first call comes: short, so that the test takes seconds. A run
     * with the defaults' figures shows the same: {@code -Dqms.test.linger-ms=10000 -Dqms.test.first-call-after-ms=60000}.
     */
    static final long LINGER_MILLIS = Long.getLong("qms.test.linger-ms", 500);
    static final long FIRST_CALL_AFTER_MILLIS = Long.getLong("qms.test.first-call-after-ms", 3 * LINGER_MILLIS);
    static final Path MODEL = TestModelFiles.write("devservices-lazy-affine.onnx", TinyModels.affine());
    static final Path SHM_ROOT = createRoot();

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(TestModelFiles.class))
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", MODEL.toString())
            .overrideConfigKey("quarkus.model-sharing.models.affine.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.devservices.linger", LINGER_MILLIS + "ms")
            .overrideConfigKey("quarkus.model-sharing.shared-memory.directory", SHM_ROOT.toString())
            .overrideConfigKey("quarkus.http.test-port", "0")
            .setAfterAllCustomizer(DevServicesLazyModelTest::stopDaemonsAndClean);

    @Inject
    @Model("affine")
    InferenceModel affine;

    @Test
    void aLazyModelCalledAfterTheLingerIsServedAndAGoneDaemonIsStartedAgain() throws Exception {
        ProcessHandle daemon = onlyDaemon();
        assertThrows(TimeoutException.class,
                () -> daemon.onExit().get(FIRST_CALL_AFTER_MILLIS, TimeUnit.MILLISECONDS),
                "the daemon stays past its linger while the application that registered with it runs");
        assertAnswers(); // the first call, and the model's first load

        daemon.destroyForcibly(); // started by this test's Dev Services, under its own root
        daemon.onExit().get(10, TimeUnit.SECONDS);
        assertAnswers();
        assertTrue(onlyDaemon().pid() != daemon.pid(), "a new daemon serves");
    }

    private void assertAnswers() {
        float[] row = { 1, 2, 3, 4 };
        for (int attempt = 0;; attempt++) {
            try (Tensor x = Tensor.of(row, 1, 4); InferenceResult result = affine.run(Map.of("x", x))) {
                assertArrayEquals(TinyModels.expectedAffine(row, TinyModels.BIAS), result.get("y").toFloatArray());
                return;
            } catch (WorkerUnavailableException e) {
                // a call made before the connection noticed its daemon died fails once ("went away"); the next reconnects
                if (attempt > 0 || !e.getMessage().contains("went away")) {
                    throw e;
                }
            }
        }
    }

    /** The daemon this JVM's Dev Services started on this test's socket. */
    private static ProcessHandle onlyDaemon() {
        List<ProcessHandle> daemons = daemons();
        assertTrue(daemons.size() == 1,
                "the daemon that Dev Services started for this test runs on " + SHM_ROOT + ": " + daemons);
        return daemons.get(0);
    }

    private static List<ProcessHandle> daemons() {
        return ProcessHandle.current().children().filter(child -> child.info().arguments()
                .map(arguments -> String.join(" ", arguments).contains(SHM_ROOT.toString())).orElse(false)).toList();
    }

    private static Path createRoot() {
        try {
            // named by this JVM: QuarkusUnitTest loads this class twice, and both must name the same root
            return Files.createDirectories(Path.of("/dev/shm", "qms-lazy-" + ProcessHandle.current().pid()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void stopDaemonsAndClean() {
        for (ProcessHandle daemon : daemons()) {
            daemon.destroy();
            daemon.onExit().orTimeout(10, TimeUnit.SECONDS).join();
        }
        try (Stream<Path> tree = Files.walk(SHM_ROOT)) {
            tree.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            Files.deleteIfExists(MODEL);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
