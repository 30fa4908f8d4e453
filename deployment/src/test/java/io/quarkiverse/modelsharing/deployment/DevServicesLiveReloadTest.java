package io.quarkiverse.modelsharing.deployment;

import static io.restassured.RestAssured.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

import org.jboss.shrinkwrap.api.asset.StringAsset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.worker.WorkerClient;
import io.quarkus.test.QuarkusDevModeTest;

/** In dev mode, the shared Dev Services daemon outlives a live reload: the reloaded application finds the same one. */
class DevServicesLiveReloadTest {

    static final Path MODEL = TestModelFiles.write("devservices-reload-affine.onnx", TinyModels.affine());

    @RegisterExtension
    static final QuarkusDevModeTest app = new QuarkusDevModeTest()
            .withApplicationRoot(jar -> jar.addClass(AffineResource.class)
                    .addAsResource(new StringAsset("quarkus.model-sharing.models.affine.path=" + MODEL + "\n"
                            + "quarkus.model-sharing.models.affine.placement=worker\n"
                            + "quarkus.model-sharing.devservices.linger=5s\n"), "application.properties"));

    @AfterAll
    static void removeModel() throws IOException {
        Files.deleteIfExists(MODEL);
    }

    @Test
    void theDaemonSurvivesALiveReload() throws Exception {
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

    private static String daemonPid() throws Exception {
        Path socket = Path.of("/dev/shm", "quarkus-model-sharing-" + Files.getAttribute(Path.of("/proc/self"), "unix:uid"),
                "devservices-worker.sock");
        try (WorkerClient client = WorkerClient.connect(socket, TensorAllocator.offHeap(), "test")) {
            String pid = client.status(Duration.ofSeconds(5)).get("pid");
            assertTrue(pid != null && !pid.isEmpty());
            return pid;
        }
    }
}
