package io.quarkiverse.modelsharing.deployment.kubernetes;

import java.util.List;
import java.util.Map;

import io.dekorate.kubernetes.decorator.ResourceProvidingDecorator;
import io.fabric8.kubernetes.api.model.KubernetesListBuilder;
import io.fabric8.kubernetes.api.model.apps.DaemonSetBuilder;

/**
 * Adds the DaemonSet of the worker daemon to the generated resources. The kubelet creates a missing {@code hostPath}
 * directory owned by root, where the daemon, which runs as the application's user, could not create its socket: an
 * init container running as root gives the directory to that user first.
 */
class AddWorkerDaemonSetDecorator extends ResourceProvidingDecorator<KubernetesListBuilder> {

    private final WorkerDaemonSet daemon;

    AddWorkerDaemonSetDecorator(WorkerDaemonSet daemon) {
        this.daemon = daemon;
    }

    @Override
    public void visit(KubernetesListBuilder list) {
        if (contains(list, "apps/v1", "DaemonSet", daemon.name())) {
            return;
        }
        Map<String, String> selector = Map.of("app.kubernetes.io/name", daemon.name());
        list.addToItems(new DaemonSetBuilder()
                .withNewMetadata().withName(daemon.name()).addToLabels(selector)
                .addToLabels("app.kubernetes.io/part-of", daemon.application()).endMetadata()
                .withNewSpec()
                .withNewSelector().withMatchLabels(selector).endSelector()
                .withNewTemplate()
                .withNewMetadata().withLabels(selector).endMetadata()
                .withNewSpec()
                .withNewSecurityContext().withRunAsUser(daemon.runAsUser()).endSecurityContext()
                .addNewInitContainer().withName("socket-directory").withImage(daemon.image())
                .withCommand(List.of("chown", Long.toString(daemon.runAsUser()), daemon.socketDirectory()))
                .withNewSecurityContext().withRunAsUser(0L).endSecurityContext()
                .addNewVolumeMount().withName(KubernetesProcessor.SOCKET_VOLUME).withMountPath(daemon.socketDirectory())
                .endVolumeMount()
                .endInitContainer()
                .addNewContainer().withName("worker").withImage(daemon.image()).withArgs(daemon.args())
                .addNewVolumeMount().withName(KubernetesProcessor.SOCKET_VOLUME).withMountPath(daemon.socketDirectory())
                .endVolumeMount()
                .addNewVolumeMount().withName(KubernetesProcessor.SHARED_MEMORY_VOLUME).withMountPath("/dev/shm")
                .endVolumeMount()
                .endContainer()
                .addToVolumes(Volumes.hostDirectory(KubernetesProcessor.SOCKET_VOLUME, daemon.socketDirectory()),
                        Volumes.memory(KubernetesProcessor.SHARED_MEMORY_VOLUME, daemon.sharedMemoryBytes()))
                .endSpec()
                .endTemplate()
                .endSpec()
                .build());
    }
}
