package io.quarkiverse.modelsharing.deployment;

import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import io.quarkiverse.modelsharing.runtime.TextModelShape;
import io.quarkus.builder.item.SimpleBuildItem;

/** The configured models, by name, with their locations, after the build has checked each of them. */
public final class ConfiguredModelsBuildItem extends SimpleBuildItem {

    private final Map<String, String> paths;
    private final Map<String, TextModelShape> texts;
    private final Set<String> remoteOnly;

    public ConfiguredModelsBuildItem(Map<String, String> paths) {
        this(paths, Map.of(), Set.of());
    }

    public ConfiguredModelsBuildItem(Map<String, String> paths, Map<String, TextModelShape> texts, Set<String> remoteOnly) {
        this.paths = Map.copyOf(paths);
        this.texts = Map.copyOf(texts);
        this.remoteOnly = Set.copyOf(remoteOnly);
    }

    /** The models with a url and no file: served only by a remote server. */
    public Set<String> remoteOnly() {
        return remoteOnly;
    }

    /** Every model's name: those with a file, and those served only remotely. */
    public Set<String> names() {
        Set<String> names = new TreeSet<>(paths.keySet());
        names.addAll(remoteOnly);
        return names;
    }

    /** The text models (those with a tokenizer), by name. */
    public Map<String, TextModelShape> texts() {
        return texts;
    }

    /** Model locations by name, as configured. */
    public Map<String, String> paths() {
        return paths;
    }

    /** Whether no model has a file, so that ONNX Runtime is not needed. */
    public boolean isEmpty() {
        return paths.isEmpty();
    }
}
