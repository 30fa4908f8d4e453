package io.quarkiverse.modelsharing.deployment;

import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkus.builder.item.SimpleBuildItem;
import io.quarkus.runtime.RuntimeValue;

/** The application's model registry, created at runtime init. */
public final class ModelRegistryBuildItem extends SimpleBuildItem {

    private final RuntimeValue<ModelRegistry> registry;

    public ModelRegistryBuildItem(RuntimeValue<ModelRegistry> registry) {
        this.registry = registry;
    }

    public RuntimeValue<ModelRegistry> registry() {
        return registry;
    }
}
