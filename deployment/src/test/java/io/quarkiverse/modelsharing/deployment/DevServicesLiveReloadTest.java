package io.quarkiverse.modelsharing.deployment;

import static io.restassured.RestAssured.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.jboss.shrinkwrap.api.asset.StringAsset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.worker.SharedWorkerDaemon;
import io.quarkiverse.modelsharing.worker.WorkerClient;
import io.quarkus.test.QuarkusDevModeTest;

/**
 * In dev mode, the shared Dev Services daemon stays for a first call that comes long after its linger (the model is
 * lazy, so nothing calls it at startup) and outlives a live reload: the reloaded application finds the same one.
 */
class DevServicesLiveReloadTest {

    static final long LINGER_MILLIS = 1000;
    /** Where the user's Dev Services daemons listen; the name of each carries its version and class path. */
    static final Path DIRECTORY = SharedWorkerDaemon.socketUnder(Path.of("/dev/shm")).getParent();
    static final Path MODEL = TestModelFiles.write("devservices-reload-affine.onnx", TinyModels.affine());

    @RegisterExtension
    static final QuarkusDevModeTest app = new QuarkusDevModeTest()
            .withApplicationRoot(jar -> jar.addClass(AffineResource.class)
                    .addAsResource(new StringAsset("quarkus.model-sharing.models.affine.path=" + MODEL + "\n"
                            + "quarkus.model-sharing.models.affine.placement=worker\n"
                            + "quarkus.model-sharing.devservices.linger=" + LINGER_MILLIS + "ms\n"),
                            "application.properties"));

    @AfterAll
    static void removeModel() throws IOException {
        Files.deleteIfExists(MODEL);
    }

    @Test
    void theDaemonStaysForALateFirstCallAndSurvivesALiveReload() throws Exception {
        ProcessHandle daemon = daemon();
        // no call yet, nobody connected since the build: it stays while this application runs
        assertThrows(TimeoutException.class, () -> daemon.onExit().get(3 * LINGER_MILLIS, TimeUnit.MILLISECONDS),
                "the daemon stays past its linger while the application that registered with it runs");
        String expected = Arrays.toString(TinyModels.expectedAffine(new float[] { 1, 1, 1, 1 }, TinyModels.BIAS));
        String[] first = get("/affine").asString().split(" ", 2);
        assertEquals(expected, first[1]);
        String before = daemonPid();
        app.modifyResourceFile("application.properties", properties -> properties + "# touched: restart the application\n");
        String[] second = get("/affine").asString().split(" ", 2);
        assertTrue(!first[0].equals(second[0]), "the application was reloaded");
        assertEquals(expected, second[1], "the reloaded application answers through the daemon");
        assertEquals(before, daemonPid(), "the same daemon: not started twice, not stopped by the reload");
    }

    /** The Dev Services daemon that serves this test's application (the build started it, or found it). */
    private static ProcessHandle daemon() {
        return ProcessHandle.allProcesses().filter(process -> process.info().arguments()
                .map(arguments -> String.join(" ", arguments).contains("--socket " + DIRECTORY + "/devservices-v"))
                .orElse(false)).findFirst()
                .orElseThrow(() -> new AssertionError("Dev Services started no daemon in " + DIRECTORY));
    }

    private static String daemonPid() throws Exception {
        List<String> arguments = List.of(daemon().info().arguments().orElseThrow());
        Path socket = Path.of(arguments.get(arguments.indexOf("--socket") + 1));
        try (WorkerClient client = WorkerClient.connect(socket, TensorAllocator.offHeap(), "test")) {
            String pid = client.status(Duration.ofSeconds(5)).get("pid");
            assertTrue(pid != null && !pid.isEmpty());
            return pid;
        }
    }
}
