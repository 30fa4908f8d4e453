package io.quarkiverse.modelsharing.deployment.kubernetes;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

import org.eclipse.microprofile.config.Config;

import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.ModelRuntimeConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.SharedMemoryConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.WorkersConfig;
import io.quarkus.runtime.configuration.MemorySizeConverter;
import io.smallrye.config.WithDefault;

/**
 * The run-time configuration that the manifests follow, as the build sees it: the run-time mapping is not available
 * to build steps, so the values are read by name, with the defaults that {@code ModelSharingConfig} declares.
 *
 * @param sharedMemory whether tensors use shared-memory pools
 * @param sharedMemoryDirectory the tmpfs of named pool files and managed workers' sockets
 * @param sharedMemoryQuota the application's shared-memory quota, in bytes
 * @param external whether worker-placed models are served by an external daemon rather than managed workers
 * @param socket the external daemon's socket, if configured
 * @param workersPerPool how many managed workers the application starts: devices times workers per device
 * @param workerPlaced the models placed in workers
 */
record ManifestSettings(boolean sharedMemory, Path sharedMemoryDirectory, long sharedMemoryQuota, boolean external,
        Optional<Path> socket, int workersPerPool, Set<String> workerPlaced) {

    private static final String PREFIX = "quarkus.model-sharing.";

    static ManifestSettings read(Config config, Set<String> models) {
        Set<String> placed = new TreeSet<>();
        for (String model : models) {
            String placement = value(config, "models.\"" + model + "\".placement")
                    .or(() -> value(config, "models." + model + ".placement"))
                    .orElseGet(() -> declaredDefault(ModelRuntimeConfig.class, "placement"));
            if (placement.equalsIgnoreCase("worker")) {
                placed.add(model);
            }
        }
        List<String> devices = List.of(value(config, "workers.devices")
                .orElseGet(() -> declaredDefault(WorkersConfig.class, "devices")).split(","));
        return new ManifestSettings(
                Boolean.parseBoolean(value(config, SharedMemoryConfig.class, "shared-memory.", "enabled")),
                Path.of(value(config, SharedMemoryConfig.class, "shared-memory.", "directory")),
                new MemorySizeConverter().convert(value(config, SharedMemoryConfig.class, "shared-memory.", "maxSize"))
                        .asLongValue(),
                value(config, WorkersConfig.class, "workers.", "mode").equalsIgnoreCase("external"),
                value(config, "workers.socket").map(Path::of),
                devices.size() * Integer.parseInt(value(config, WorkersConfig.class, "workers.", "perDevice")),
                placed);
    }

    /** How many managed workers run beside the application: none without worker-placed models or in external mode. */
    int managedWorkers() {
        return workerPlaced.isEmpty() || external ? 0 : workersPerPool;
    }

    private static String value(Config config, Class<?> group, String prefix, String method) {
        return value(config, prefix + hyphenated(method)).orElseGet(() -> declaredDefault(group, method));
    }

    private static Optional<String> value(Config config, String name) {
        return config.getOptionalValue(PREFIX + name, String.class);
    }

    private static String declaredDefault(Class<?> group, String method) {
        try {
            return group.getMethod(method).getAnnotation(WithDefault.class).value();
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException(group.getName() + " no longer declares " + method + "()", e);
        }
    }

    private static String hyphenated(String method) {
        return method.replaceAll("([a-z])([A-Z])", "$1-$2").toLowerCase();
    }
}
