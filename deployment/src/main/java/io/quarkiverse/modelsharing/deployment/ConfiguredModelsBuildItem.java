package io.quarkiverse.modelsharing.deployment;

import java.util.Map;

import io.quarkiverse.modelsharing.runtime.TextModelShape;
import io.quarkus.builder.item.SimpleBuildItem;

/** The configured models, by name, with their locations, after the build has checked each of them. */
public final class ConfiguredModelsBuildItem extends SimpleBuildItem {

    private final Map<String, String> paths;
    private final Map<String, TextModelShape> texts;

    public ConfiguredModelsBuildItem(Map<String, String> paths) {
        this(paths, Map.of());
    }

    public ConfiguredModelsBuildItem(Map<String, String> paths, Map<String, TextModelShape> texts) {
        this.paths = Map.copyOf(paths);
        this.texts = Map.copyOf(texts);
    }

    /** The text models (those with a tokenizer), by name. */
    public Map<String, TextModelShape> texts() {
        return texts;
    }

    /** Model locations by name, as configured. */
    public Map<String, String> paths() {
        return paths;
    }

    public boolean isEmpty() {
        return paths.isEmpty();
    }
}
