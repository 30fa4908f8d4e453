package io.quarkiverse.modelsharing.deployment;

import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.assertMemoryVolume;
import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.container;
import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.mounts;
import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.podSpec;
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
 * Managed workers: the application's {@code /dev/shm} is a memory-backed {@code emptyDir} as large as its own quota
 * and its workers' together.
 */
class KubernetesManagedWorkersManifestTest {

    static final Path MODEL = TestModelFiles.write("k8s-managed-affine.onnx", TinyModels.affine());

    @RegisterExtension
    static final QuarkusProdModeTest app = new QuarkusProdModeTest()
            .withApplicationRoot(jar -> jar.addClass(TestModelFiles.class))
            .setApplicationName("shop")
            .setApplicationVersion("1.0")
            .setForcedDependencies(KubernetesManifests.EXTENSION)
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", MODEL.toString())
            .overrideConfigKey("quarkus.model-sharing.models.affine.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.workers.per-device", "3")
            .overrideConfigKey("quarkus.model-sharing.shared-memory.max-size", "512M");

    @ProdBuildResults
    ProdModeTestResults results;

    @Test
    void sharedMemoryIsSizedToTheApplicationAndItsThreeWorkers() {
        KubernetesManifests manifests = KubernetesManifests.of(results.getBuildDir());
        Map<String, Object> pod = podSpec(manifests.get("Deployment", "shop"));
        // 512 MiB for the application, 1 GiB for each of the 3 workers (cpu x per-device 3)
        assertMemoryVolume(pod, "model-sharing-shm", "3584Mi");
        assertEquals(Map.of("model-sharing-shm", "/dev/shm"), mounts(container(pod, "containers", "shop")));
        assertEquals(1, KubernetesManifests.list(pod.get("volumes")).size(), "no socket directory: " + pod.get("volumes"));
        assertTrue(manifests.find("DaemonSet", "shop-model-worker").isEmpty(), "managed workers need no daemon");
    }
}
