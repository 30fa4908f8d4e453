package io.quarkiverse.modelsharing.runtime;

import java.util.Map;

import jakarta.enterprise.context.spi.CreationalContext;

import io.quarkiverse.modelsharing.registry.ModelHandle;
import io.quarkus.arc.BeanDestroyer;

/** Closes an injected raw handle when the bean that holds it is destroyed, so that the model can be evicted again. */
public class ModelHandleDestroyer implements BeanDestroyer<ModelHandle<?>> {

    @Override
    public void destroy(ModelHandle<?> handle, CreationalContext<ModelHandle<?>> context, Map<String, Object> params) {
        handle.close();
    }
}
