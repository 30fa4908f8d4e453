package io.quarkiverse.modelsharing.runtime.health;

import java.util.Set;
import java.util.TreeSet;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.runtime.ModelReadiness;
import io.quarkiverse.modelsharing.runtime.oip.RemoteModels;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;

/**
 * Readiness: each model is {@code loaded}, {@code loadable} (not in memory, its source present), {@code loading},
 * or down: {@code failed: <reason>} or {@code missing: <source>}; a remote one is {@code ready at <endpoint>} or
 * {@code down: <the server's answer>}; and each worker, {@code up} or {@code down: <reason>} (it exited, or its
 * heartbeat found it hung: see {@link WorkerPool#status()}).
 */
@Readiness
@ApplicationScoped
public class ModelSharingHealthCheck implements HealthCheck {

    @Inject
    ModelRegistry registry;

    @Inject
    WorkerPool workers;

    @Inject
    RemoteModels remotes;

    @Inject
    ModelReadiness readiness;

    @Override
    public HealthCheckResponse call() {
        HealthCheckResponseBuilder response = HealthCheckResponse.named("Model sharing").up();
        Set<String> names = new TreeSet<>(registry.names());
        names.addAll(remotes.all().keySet());
        for (String name : names) {
            String status = readiness.status(name);
            if (ModelReadiness.isDown(status)) {
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
