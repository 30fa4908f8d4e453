package io.quarkiverse.modelsharing.devservices;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

import org.eclipse.microprofile.config.Config;
import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.logging.Logger;

import io.quarkiverse.modelsharing.runtime.ModelSharingBuildTimeConfig;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.worker.SharedWorkerDaemon;
import io.quarkus.deployment.IsNormal;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.builditem.DevServicesResultBuildItem;
import io.quarkus.deployment.builditem.RunTimeConfigurationDefaultBuildItem;

/**
 * Dev Services: in dev and test mode, models placed in workers are served by one local worker daemon shared by all
 * the user's applications and tests, unless the application configures its workers itself
 * ({@code workers.socket} or {@code workers.mode}). The daemon is found again through its socket (never started twice),
 * outlives live reloads, and leaves by itself a little after its last application ended; an application whose daemon
 * went away meanwhile starts it again.
 */
class ModelSharingDevServicesProcessor {

    private static final Logger LOG = Logger.getLogger(ModelSharingDevServicesProcessor.class);
    static final String FEATURE = "model-sharing";

    @BuildStep(onlyIfNot = IsNormal.class)
    void sharedWorker(ModelSharingBuildTimeConfig config, BuildProducer<RunTimeConfigurationDefaultBuildItem> defaults,
            BuildProducer<DevServicesResultBuildItem> devServices) {
        Config raw = ConfigProvider.getConfig();
        boolean placed = config.models().keySet().stream().anyMatch(name -> "worker".equalsIgnoreCase(
                property(raw, "quarkus.model-sharing.models." + name + ".placement")
                        .or(() -> property(raw, "quarkus.model-sharing.models.\"" + name + "\".placement")).orElse("")));
        boolean workersConfigured = property(raw, "quarkus.model-sharing.workers.socket").isPresent()
                || property(raw, "quarkus.model-sharing.workers.mode").isPresent();
        if (!config.devservices().enabled() || !placed || workersConfigured) {
            return;
        }
        Duration linger = config.devservices().linger();
        Path shmRoot = property(raw, "quarkus.model-sharing.shared-memory.directory").map(Path::of)
                .orElse(SharedMemorySettings.DEFAULT_ROOT);
        // This build runs in the application's JVM (dev and test mode): once the daemon knows its pid, it stays while
        // the application runs, even if its first model call (a lazy model) comes long after the linger.
        SharedWorkerDaemon daemon = SharedWorkerDaemon.findOrStartFor(SharedWorkerDaemon.socketUnder(shmRoot), linger,
                "dev-services-" + ProcessHandle.current().pid());
        String where = daemon.socket().toString();
        if (daemon.startedHere()) {
            LOG.infof("Dev Services for Quarkus Model Sharing: started a shared worker daemon (pid %d) on %s; it stops %d ms"
                    + " after its last application ended", daemon.pid(), where, linger.toMillis());
        } else {
            LOG.infof("Dev Services for Quarkus Model Sharing: using the shared worker daemon on %s", where);
        }
        Map<String, String> workers = Map.of("quarkus.model-sharing.workers.mode", "external",
                "quarkus.model-sharing.workers.socket", where,
                "quarkus.model-sharing.workers.register-models", "true",
                "quarkus.model-sharing.workers.shared-daemon-linger", linger.toMillis() + "ms");
        // Defaults, so that anything the application sets still wins; the result lists the daemon in the Dev UI.
        workers.forEach((name, value) -> defaults.produce(new RunTimeConfigurationDefaultBuildItem(name, value)));
        devServices.produce(new DevServicesResultBuildItem(FEATURE,
                "Shared worker daemon on " + where + (daemon.startedHere() ? " (pid " + daemon.pid() + ")" : ""), null,
                Map.of()));
    }

    private static Optional<String> property(Config config, String name) {
        return config.getOptionalValue(name, String.class);
    }
}
