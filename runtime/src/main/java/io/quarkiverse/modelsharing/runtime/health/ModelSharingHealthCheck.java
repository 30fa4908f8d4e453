package io.quarkiverse.modelsharing.runtime.health;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.registry.ModelState;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;

/**
 * Readiness: each model is {@code loaded}, {@code loadable} (not in memory, its source present), {@code loading},
 * or down: {@code failed: <reason>} or {@code missing: <source>}; and each worker, {@code up} or {@code down: <reason>}
 * (it exited, or its heartbeat found it hung: see {@link WorkerPool#status()}).
 */
@Readiness
@ApplicationScoped
public class ModelSharingHealthCheck implements HealthCheck {

    @Inject
    ModelRegistry registry;

    @Inject
    WorkerPool workers;

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder response = HealthCheckResponse.named("Model sharing").up();
        for (String name : registry.names().stream().sorted().toList()) {
            ModelState state = registry.state(name);
            String status = switch (state) {
                case LOADED -> "loaded";
                case LOADING -> "loading";
                case FAILED -> "failed: " + registry.lastFailure(name).getMessage();
                case UNLOADED -> registry.isAvailable(name) ? "loadable" : "missing: " + registry.describe(name);
            };
            if (status.startsWith("failed") || status.startsWith("missing")) {
                response.down();
            }
            response.withData(name, status);
        }
        workers.status().forEach((worker, state) -> {
            response.withData("worker " + worker, state);
            if (!state.equals("up")) {
                response.down();
            }
        });
        return response.build();
    }
}
