package io.quarkiverse.modelsharing.runtime.oip;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import jakarta.enterprise.inject.Any;
import jakarta.inject.Inject;
import jakarta.inject.Singleton;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.runtime.ModelReadiness;
import io.quarkus.arc.Arc;
import io.quarkus.arc.InstanceHandle;

/**
 * The models the Open Inference Protocol serves, over REST and gRPC: every {@code @Model("name") InferenceModel} of
 * the application, each in its one version, {@value #VERSION}.
 */
@Singleton
public class ServedModels {

    /** The one version of each model that the application serves. */
    public static final String VERSION = "1";
    /** The server's name in its metadata. */
    public static final String SERVER = "quarkus-model-sharing";

    @Inject
    ModelReadiness readiness;

    private volatile Map<String, InferenceModel> models;

    /** Every model, by name. */
    public Map<String, InferenceModel> all() {
        Map<String, InferenceModel> found = models;
        return found != null ? found : find(); // every request asks: no lock once they are found
    }

    private synchronized Map<String, InferenceModel> find() {
        Map<String, InferenceModel> found = models;
        if (found == null) {
            found = new TreeMap<>();
            for (InstanceHandle<InferenceModel> handle : Arc.container().listAll(InferenceModel.class, Any.Literal.INSTANCE)) {
                for (var qualifier : handle.getBean().getQualifiers()) {
                    if (qualifier instanceof Model model) {
                        found.put(model.value(), handle.get());
                    }
                }
            }
            found = java.util.Collections.unmodifiableMap(found);
            models = found;
        }
        return found;
    }

    /**
     * The model of that name and version (null or empty for its one version).
     *
     * @throws InferenceProtocolException (404) naming the models, or the one version
     */
    public InferenceModel get(String name, String version) {
        InferenceModel model = all().get(name);
        if (model == null) {
            throw new InferenceProtocolException(404, "Model '" + name + "' is not served here; the models are "
                    + all().keySet());
        }
        if (version != null && !version.isEmpty() && !version.equals(VERSION)) {
            throw new InferenceProtocolException(404, "Model '" + name + "' has no version '" + version
                    + "'; its one version is " + VERSION);
        }
        return model;
    }

    /** Why the model cannot serve a request now, or empty if it can. */
    public Optional<String> problem(String name) {
        return readiness.problem(name);
    }

    /** Why the server is not ready, each model that cannot serve with its reason; empty if it is. */
    public List<String> problems() {
        List<String> problems = new ArrayList<>();
        all().keySet().forEach(name -> readiness.problem(name).ifPresent(problem -> problems.add(name + ": " + problem)));
        return problems;
    }

    /** The extension's version, for the server's metadata. */
    public String serverVersion() {
        return Optional.ofNullable(ServedModels.class.getPackage().getImplementationVersion()).orElse("999-SNAPSHOT");
    }
}
