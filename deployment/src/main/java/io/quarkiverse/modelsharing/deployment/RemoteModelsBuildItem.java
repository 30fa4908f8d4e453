package io.quarkiverse.modelsharing.deployment;

import io.quarkiverse.modelsharing.runtime.oip.RemoteModels;
import io.quarkus.builder.item.SimpleBuildItem;
import io.quarkus.runtime.RuntimeValue;

/** The application's models placed on remote servers, created at run time. */
public final class RemoteModelsBuildItem extends SimpleBuildItem {

    private final RuntimeValue<RemoteModels> models;

    public RemoteModelsBuildItem(RuntimeValue<RemoteModels> models) {
        this.models = models;
    }

    public RuntimeValue<RemoteModels> models() {
        return models;
    }
}
