package io.quarkiverse.modelsharing.deployment.kubernetes;

import java.util.Optional;

import io.quarkus.runtime.annotations.ConfigPhase;
import io.quarkus.runtime.annotations.ConfigRoot;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;

/**
 * What the manifests that quarkus-kubernetes generates carry for the extension, when the application has
 * quarkus-kubernetes.
 */
@ConfigMapping(prefix = "quarkus.model-sharing.kubernetes")
@ConfigRoot(phase = ConfigPhase.BUILD_TIME)
public interface ModelSharingKubernetesConfig {

    /**
     * In external mode with models placed in workers, whether the manifests include a DaemonSet that runs the worker
     * daemon on each node, on the application's socket and with its worker-placed models. Turn it off where the daemon
     * is deployed on its own, e.g. once for several applications.
     */
    @WithName("daemon-set.enabled")
    @WithDefault("true")
    boolean daemonSetEnabled();

    /**
     * The image of the worker daemon in the DaemonSet: an image whose entry point runs the worker jar
     * ({@code java -jar quarkus-model-sharing-worker.jar}), so that the DaemonSet passes only its arguments. If unset,
     * {@code quarkus-model-sharing-worker} in the application image's registry and group, with its tag, e.g.
     * {@code quay.io/acme/quarkus-model-sharing-worker:1.0} beside {@code quay.io/acme/shop:1.0}.
     */
    @WithName("daemon-set.image")
    Optional<String> daemonImage();
}
