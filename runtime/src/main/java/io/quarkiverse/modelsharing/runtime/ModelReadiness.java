package io.quarkiverse.modelsharing.runtime;

import java.util.Optional;

import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.registry.ModelState;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.Placement;
import io.quarkiverse.modelsharing.runtime.oip.RemoteModels;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;

/**
 * Whether each model can serve a request now, wherever it runs: what readiness and the Open Inference Protocol's
 * ready endpoints report.
 */
@Singleton
public class ModelReadiness {

    @Inject
    ModelRegistry registry;

    @Inject
    WorkerPool workers;

    @Inject
    RemoteModels remotes;

    @Inject
    ModelSharingConfig config;

    /**
     * The model's state as readiness shows it: {@code loaded}, {@code loadable}, {@code loading}, {@code failed: ...}
     * or {@code missing: ...} of its file (workers report their own state); {@code ready at <endpoint>} or
     * {@code down: <the remote server's answer>} for a remote model.
     */
    public String status(String name) {
        Placement placement = config.models().get(name).placement();
        if (placement == Placement.REMOTE) {
            return remotes.get(name).map(remote -> {
                String problem = remote.notReady();
                return problem == null ? "ready at " + remote.endpoint() : "down: " + problem;
            }).orElse("down: not configured");
        }
        ModelState state = registry.state(name);
        return switch (state) {
            case LOADED -> "loaded";
            case LOADING -> "loading";
            case FAILED -> "failed: " + (registry.lastFailure(name) == null ? "no reason kept"
                    : registry.lastFailure(name).getMessage());
            case UNLOADED -> registry.isAvailable(name) ? "loadable" : "missing: " + registry.describe(name);
        };
    }

    /** Why the model cannot serve a request now, or empty if it can. */
    public Optional<String> problem(String name) {
        if (config.models().get(name).placement() == Placement.WORKER
                && workers.status().values().stream().noneMatch("up"::equals)) {
            return Optional.of("down: no worker is up " + workers.status().values());
        }
        String status = status(name);
        return isDown(status) ? Optional.of(status) : Optional.empty();
    }

    /** Whether a {@link #status(String)} says the model cannot serve. */
    public static boolean isDown(String status) {
        return status.startsWith("failed") || status.startsWith("missing") || status.startsWith("down");
    }
}
