package io.quarkiverse.modelsharing.deployment;

import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.assertMemoryVolume;
import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.container;
import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.map;
import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.mounts;
import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.podSpec;
import static io.quarkiverse.modelsharing.deployment.KubernetesManifests.volume;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkus.test.ProdBuildResults;
import io.quarkus.test.ProdModeTestResults;
import io.quarkus.test.QuarkusProdModeTest;

/**
 * External mode: the application mounts the daemon's socket directory from the node, and the manifests carry the
 * daemon's DaemonSet, on the same directory, as the same user, with the application's worker-placed models.
 */
class KubernetesExternalDaemonManifestTest {

    static final Path MODEL = TestModelFiles.write("k8s-external-affine.onnx", TinyModels.affine());
    static final String SOCKETS = "/run/model-sharing";

    @RegisterExtension
    static final QuarkusProdModeTest app = new QuarkusProdModeTest()
            .withApplicationRoot(jar -> jar.addClass(TestModelFiles.class))
            .setApplicationName("shop")
            .setApplicationVersion("1.0")
            .setForcedDependencies(KubernetesManifests.EXTENSION)
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", MODEL.toString())
            .overrideConfigKey("quarkus.model-sharing.models.affine.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.models.local.path", MODEL.toString())
            .overrideConfigKey("quarkus.model-sharing.workers.mode", "external")
            .overrideConfigKey("quarkus.model-sharing.workers.socket", SOCKETS + "/worker.sock")
            .overrideConfigKey("quarkus.kubernetes.security-context.run-as-user", "1001")
            .overrideConfigKey("quarkus.container-image.registry", "quay.io")
            .overrideConfigKey("quarkus.container-image.group", "acme");

    @ProdBuildResults
    ProdModeTestResults results;

    @Test
    void theApplicationMountsTheSocketDirectoryAndItsOwnSharedMemory() {
        Map<String, Object> pod = podSpec(KubernetesManifests.of(results.getBuildDir()).get("Deployment", "shop"));
        assertEquals(Map.of("path", SOCKETS, "type", "DirectoryOrCreate"),
                volume(pod, "model-sharing-socket").orElseThrow().get("hostPath"));
        // no managed workers: the application's default quota alone
        assertMemoryVolume(pod, "model-sharing-shm", "1Gi");
        assertEquals(Map.of("model-sharing-socket", SOCKETS, "model-sharing-shm", "/dev/shm"),
                mounts(container(pod, "containers", "shop")));
    }

    @Test
    void theDaemonSetRunsTheWorkerOnTheSameSocketAsTheSameUser() {
        Map<String, Object> daemon = KubernetesManifests.of(results.getBuildDir()).get("DaemonSet", "shop-model-worker");
        assertEquals("apps/v1", daemon.get("apiVersion"));
        Map<String, String> selector = Map.of("app.kubernetes.io/name", "shop-model-worker");
        assertEquals(selector, map(map(daemon.get("spec")).get("selector")).get("matchLabels"));
        Map<String, Object> pod = podSpec(daemon);
        assertEquals(Map.of("runAsUser", 1001), pod.get("securityContext"));

        Map<String, Object> worker = container(pod, "containers", "worker");
        assertEquals("quay.io/acme/quarkus-model-sharing-worker:1.0", worker.get("image"));
        // only the worker-placed model, at its configured location
        assertEquals(List.of("--socket", SOCKETS + "/worker.sock", "--model", "affine=" + MODEL), worker.get("args"));
        assertEquals(Map.of("model-sharing-socket", SOCKETS, "model-sharing-shm", "/dev/shm"), mounts(worker));

        Map<String, Object> chown = container(pod, "initContainers", "socket-directory");
        assertEquals(List.of("chown", "1001", SOCKETS), chown.get("command"));
        assertEquals(Map.of("runAsUser", 0), chown.get("securityContext"));
        assertEquals(Map.of("model-sharing-socket", SOCKETS), mounts(chown));

        assertEquals(Map.of("path", SOCKETS, "type", "DirectoryOrCreate"),
                volume(pod, "model-sharing-socket").orElseThrow().get("hostPath"));
        assertMemoryVolume(pod, "model-sharing-shm", "1Gi");
    }
}
