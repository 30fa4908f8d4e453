package io.quarkiverse.modelsharing.deployment.kubernetes;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.logging.Logger;

import io.dekorate.kubernetes.config.Mount;
import io.dekorate.kubernetes.decorator.AddMountDecorator;
import io.quarkiverse.modelsharing.deployment.ConfiguredModelsBuildItem;
import io.quarkiverse.modelsharing.worker.WorkerMain;
import io.quarkus.container.spi.ContainerImageInfoBuildItem;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.kubernetes.spi.DecoratorBuildItem;
import io.quarkus.kubernetes.spi.KubernetesResourceMetadataBuildItem;

/**
 * What the manifests of quarkus-kubernetes need for the configured models: a memory-backed {@code /dev/shm} sized to
 * the pod's shared-memory quotas and, in external mode, the daemon's socket directory and the daemon's DaemonSet.
 * <p>
 * The manifests are written at build time, so they follow the run-time configuration as the build sees it
 * ({@code application.properties} and the build's own environment), as quarkus-kubernetes does for ports.
 */
class KubernetesProcessor {

    private static final Logger LOG = Logger.getLogger(KubernetesProcessor.class);

    static final String SHARED_MEMORY_VOLUME = "model-sharing-shm";
    static final String SOCKET_VOLUME = "model-sharing-socket";
    static final String WORKER_IMAGE_NAME = "quarkus-model-sharing-worker";
    /** The user that the images Quarkus builds run as (its Dockerfiles and Jib), when the manifests set none. */
    static final long QUARKUS_IMAGE_USER = 185;

    /** Knative admits neither {@code emptyDir} nor {@code hostPath} volumes unless a cluster enables them. */
    private static final String KNATIVE = "knative";

    @BuildStep
    void decorateManifests(ConfiguredModelsBuildItem models, ModelSharingKubernetesConfig kubernetes,
            List<KubernetesResourceMetadataBuildItem> resources, Optional<ContainerImageInfoBuildItem> image,
            BuildProducer<DecoratorBuildItem> decorators) {
        if (resources.isEmpty()) {
            return; // no quarkus-kubernetes: no manifests, and dekorate is not on the class path
        }
        ManifestSettings settings = ManifestSettings.read(ConfigProvider.getConfig(), models.paths().keySet());
        Map<String, String> placed = new TreeMap<>();
        settings.workerPlaced().forEach(name -> placed.put(name, models.paths().get(name)));
        Optional<Path> socket = settings.external() && !placed.isEmpty() ? settings.socket() : Optional.empty();
        if (settings.external() && !placed.isEmpty() && socket.isEmpty()) {
            LOG.warnf("Models %s are placed in an external worker daemon, but quarkus.model-sharing.workers.socket is"
                    + " not set at build time: the Kubernetes manifests carry neither its socket directory nor its"
                    + " DaemonSet", placed.keySet());
        }
        for (KubernetesResourceMetadataBuildItem resource : resources) {
            if (KNATIVE.equals(resource.getTarget())) {
                continue;
            }
            String target = resource.getTarget();
            String name = resource.getName();
            if (settings.sharedMemory()) {
                String directory = settings.sharedMemoryDirectory().toString();
                decorators.produce(
                        new DecoratorBuildItem(target, new AddVolumeDecorator(name, Volumes.memory(SHARED_MEMORY_VOLUME,
                                sharedMemoryBytes(settings.sharedMemoryQuota(), settings.managedWorkers())))));
                decorators.produce(new DecoratorBuildItem(target, new AddMountDecorator(name, name,
                        new Mount(SHARED_MEMORY_VOLUME, directory, null, false))));
            }
            socket.ifPresent(path -> {
                String directory = path.toAbsolutePath().getParent().toString();
                decorators.produce(new DecoratorBuildItem(target, new AddVolumeDecorator(name,
                        Volumes.hostDirectory(SOCKET_VOLUME, directory))));
                decorators.produce(new DecoratorBuildItem(target, new AddMountDecorator(name, name,
                        new Mount(SOCKET_VOLUME, directory, null, false))));
                if (kubernetes.daemonSetEnabled()) {
                    WorkerDaemonSet daemon = new WorkerDaemonSet(name + "-model-worker", name,
                            kubernetes.daemonImage().orElseGet(() -> workerImage(image)), daemonArgs(path, placed),
                            runAsUser(), directory, WorkerMain.DEFAULT_SHM_MAX_BYTES);
                    decorators.produce(new DecoratorBuildItem(target, new AddWorkerDaemonSetDecorator(daemon)));
                }
            });
        }
    }

    /**
     * The most shared memory the pod's processes hold together: the application's quota and each managed worker's.
     * Managed workers are started without {@code --shm-max}, so each has the daemon's default quota.
     */
    static long sharedMemoryBytes(long applicationQuota, int managedWorkers) {
        return applicationQuota + managedWorkers * WorkerMain.DEFAULT_SHM_MAX_BYTES;
    }

    /** The daemon's socket and the worker-placed models, at the locations the application configures. */
    static List<String> daemonArgs(Path socket, Map<String, String> placed) {
        List<String> args = new ArrayList<>(List.of("--socket", socket.toAbsolutePath().toString()));
        placed.forEach((name, location) -> args.addAll(List.of("--model", name + "=" + location)));
        return args;
    }

    /** The application pod's user, which the daemon must share: the one the manifests set, else Quarkus images' own. */
    private static long runAsUser() {
        return ConfigProvider.getConfig().getOptionalValue("quarkus.kubernetes.security-context.run-as-user", Long.class)
                .orElse(QUARKUS_IMAGE_USER);
    }

    /** The worker image beside the application's: same registry, group and tag. */
    static String workerImage(Optional<ContainerImageInfoBuildItem> application) {
        if (application.isEmpty()) {
            return WORKER_IMAGE_NAME;
        }
        ContainerImageInfoBuildItem info = application.get();
        String group = info.getGroup() == null || info.getGroup().isBlank() ? "" : info.getGroup() + "/";
        return info.getRegistry().map(registry -> registry + "/").orElse("") + group + WORKER_IMAGE_NAME + ":"
                + info.getTag();
    }
}
