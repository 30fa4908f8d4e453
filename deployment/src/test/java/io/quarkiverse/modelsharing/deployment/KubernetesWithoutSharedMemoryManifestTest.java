package io.quarkiverse.modelsharing.deployment;

import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.container;
import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.mounts;
import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.podSpec;
import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.volume;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkus.test.ProdBuildResults;
import io.quarkus.test.ProdModeTestResults;
import io.quarkus.test.QuarkusProdModeTest;

/**
 * Shared memory disabled: no {@code /dev/shm} volume. With the DaemonSet turned off, external mode still mounts the
 * socket directory, for a daemon deployed on its own.
 */
class KubernetesWithoutSharedMemoryManifestTest {

    static final Path MODEL = TestModelFiles.write("k8s-no-shm-affine.onnx", TinyModels.affine());

    @RegisterExtension
    static final QuarkusProdModeTest app = new QuarkusProdModeTest()
            .withApplicationRoot(jar -> jar.addClass(TestModelFiles.class))
            .setApplicationName("shop")
            .setApplicationVersion("1.0")
            .setForcedDependencies(KubernetesManifests.EXTENSION)
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", MODEL.toString())
            .overrideConfigKey("quarkus.model-sharing.models.affine.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.workers.mode", "external")
            .overrideConfigKey("quarkus.model-sharing.workers.socket", "/var/run/models/worker.sock")
            .overrideConfigKey("quarkus.model-sharing.shared-memory.enabled", "false")
            .overrideConfigKey("quarkus.model-sharing.kubernetes.daemon-set.enabled", "false");

    @ProdBuildResults
    ProdModeTestResults results;

    @Test
    void noSharedMemoryVolumeAndNoDaemonSet() {
        KubernetesManifests manifests = KubernetesManifests.of(results.getBuildDir());
        Map<String, Object> pod = podSpec(manifests.get("Deployment", "shop"));
        assertTrue(volume(pod, "model-sharing-shm").isEmpty(), "shared memory is disabled: " + pod.get("volumes"));
        assertEquals(Map.of("model-sharing-socket", "/var/run/models"), mounts(container(pod, "containers", "shop")));
        assertTrue(manifests.find("DaemonSet", "shop-model-worker").isEmpty(), manifests.kinds().toString());
    }
}
