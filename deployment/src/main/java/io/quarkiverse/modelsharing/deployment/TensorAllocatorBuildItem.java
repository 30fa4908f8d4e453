package io.quarkiverse.modelsharing.deployment;

import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkus.builder.item.SimpleBuildItem;
import io.quarkus.runtime.RuntimeValue;

/** The application's tensor allocator, created at runtime init. */
public final class TensorAllocatorBuildItem extends SimpleBuildItem {

    private final RuntimeValue<TensorAllocator> allocator;

    public TensorAllocatorBuildItem(RuntimeValue<TensorAllocator> allocator) {
        this.allocator = allocator;
    }

    public RuntimeValue<TensorAllocator> allocator() {
        return allocator;
    }
}
