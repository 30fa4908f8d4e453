package io.quarkiverse.modelsharing.deployment;

import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;
import io.quarkus.builder.item.SimpleBuildItem;
import io.quarkus.runtime.RuntimeValue;

/** The workers serving models placed in them, started at runtime init. */
public final class WorkerPoolBuildItem extends SimpleBuildItem {

    private final RuntimeValue<WorkerPool> pool;

    public WorkerPoolBuildItem(RuntimeValue<WorkerPool> pool) {
        this.pool = pool;
    }

    public RuntimeValue<WorkerPool> pool() {
        return pool;
    }
}
