package io.quarkiverse.modelsharing.runtime.oip;

import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** The application's models placed on remote servers ({@code placement=remote}), by name. */
public final class RemoteModels implements AutoCloseable {

    private final Map<String, RemoteInferenceModel> models;

    public RemoteModels(Map<String, RemoteInferenceModel> models) {
        this.models = new TreeMap<>(models);
    }

    public Optional<RemoteInferenceModel> get(String name) {
        return Optional.ofNullable(models.get(name));
    }

    public Map<String, RemoteInferenceModel> all() {
        return models;
    }

    @Override
    public void close() {
        models.values().forEach(RemoteInferenceModel::close);
    }
}
