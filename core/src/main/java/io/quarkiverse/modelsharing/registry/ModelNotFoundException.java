package io.quarkiverse.modelsharing.registry;

import java.util.Collection;
import java.util.TreeSet;

import io.quarkiverse.modelsharing.ModelSharingException;

/** No model is registered under the name asked for. */
public class ModelNotFoundException extends ModelSharingException {

    public ModelNotFoundException(String name, Collection<String> registered) {
        super("No model named '" + name + "' is registered; registered models: "
                + (registered.isEmpty() ? "none" : new TreeSet<>(registered)));
    }
}
