package io.quarkiverse.modelsharing.deployment;

import java.util.Map;

import io.quarkus.builder.item.SimpleBuildItem;

/** The configured models, by name, with their locations, after the build has checked each of them. */
public final class ConfiguredModelsBuildItem extends SimpleBuildItem {

    private final Map<String, String> paths;

    public ConfiguredModelsBuildItem(Map<String, String> paths) {
        this.paths = Map.copyOf(paths);
    }

    /** Model locations by name, as configured. */
    public Map<String, String> paths() {
        return paths;
    }

    public boolean isEmpty() {
        return paths.isEmpty();
    }
}
