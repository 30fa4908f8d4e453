package io.quarkiverse.modelsharing.runtime.dev;

import java.util.List;
import java.util.Locale;

import jakarta.inject.Inject;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.registry.ModelState;
import io.quarkiverse.modelsharing.registry.ModelStats;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.Placement;
import io.quarkiverse.modelsharing.runtime.worker.WorkerInfo;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkus.runtime.annotations.JsonRpcDescription;

/**
 * What the Dev UI card shows and does: the models, this process's shared memory and the workers, read from the
 * registry, the allocator and the worker pool as they are now; and the actions reload, evict and restart a worker.
 * Actions answer with an {@link ActionResult} rather than an error, so that the page can say what happened either way.
 */
public class ModelSharingJsonRPCService {

    @Inject
    ModelRegistry registry;

    @Inject
    WorkerPool workers;

    @Inject
    TensorAllocator allocator;

    @Inject
    ModelSharingConfig config;

    /**
     * One model as the card shows it. For a model placed in workers, the in-process counters stay at 0: the workers
     * hold it, and the workers page shows what they report.
     *
     * @param placement {@code in-process} or {@code worker}
     * @param state {@code loaded}, {@code loading}, {@code unloaded} or {@code failed}; {@code in workers} for a model
     *        placed there
     * @param failure why its last load failed, or null
     */
    public record ModelView(String name, String placement, String source, String state, long bytes, long hits,
            long misses, long loads, long loadFailures, long evictions, int liveHandles, long lastLoadMillis,
            String failure) {
    }

    /**
     * This process's shared memory.
     *
     * @param kind {@code memfd} (sealed pools handed over sockets), {@code named files} (in {@code directory}), or
     *        {@code off-heap} when shared memory is off or unusable here
     * @param files pool files mapped for this process's tensors
     * @param usedBytes bytes of tensors now allocated
     * @param mappedBytes bytes of pool files mapped: the pools' capacity now
     * @param quotaBytes how far the pools may grow
     * @param poolFileBytes the size of each new pool file
     */
    public record SharedMemoryView(String kind, String directory, int files, long usedBytes, long mappedBytes,
            long quotaBytes, long poolFileBytes) {
    }

    /** What an action did: {@code done} is false when it did nothing, and {@code message} says why. */
    public record ActionResult(boolean done, String message) {
    }

    @JsonRpcDescription("The configured models: placement, state, memory, hits and misses, open handles and last load time")
    public List<ModelView> getModels() {
        return registry.names().stream().sorted().map(this::view).toList();
    }

    @JsonRpcDescription("How many models are configured, for the card's label")
    public String getModelCount() {
        return Integer.toString(registry.names().size());
    }

    @JsonRpcDescription("This process's shared-memory pools: files, bytes used and mapped, and the quota")
    public SharedMemoryView getSharedMemory() {
        if (allocator instanceof SharedMemoryPool pool) {
            boolean named = pool.settings().namedFiles();
            return new SharedMemoryView(named ? "named files" : "memfd", named ? pool.directory().toString() : null,
                    pool.fileCount(), pool.usedBytes(), pool.mappedBytes(), pool.settings().maxBytes(),
                    pool.settings().poolFileBytes());
        }
        return new SharedMemoryView("off-heap", null, 0, 0, 0, 0, 0);
    }

    @JsonRpcDescription("The workers: name, device, pid, restarts, state and the status of their last heartbeat")
    public List<WorkerInfo> getWorkers() {
        return workers.workers();
    }

    @JsonRpcDescription("How many workers serve this application's models, for the card's label")
    public String getWorkerCount() {
        return Integer.toString(workers.size());
    }

    @JsonRpcDescription("Loads a model afresh from its source now; open handles keep the old load until they close")
    public ActionResult reload(@JsonRpcDescription("the model's name") String name) {
        try {
            if (placedInWorkers(name)) {
                return inWorkers(name, "reloaded");
            }
            registry.reload(name);
            registry.acquire(name).close();
            ModelStats stats = registry.stats(name);
            return new ActionResult(true, "Model '" + name + "' was reloaded from " + registry.describe(name) + " in "
                    + stats.lastLoadTime().toMillis() + " ms");
        } catch (ModelSharingException e) {
            return new ActionResult(false, "Model '" + name + "' could not be reloaded: " + e.getMessage());
        }
    }

    @JsonRpcDescription("Unloads a model now if no handle to it is open; the next request loads it again")
    public ActionResult evict(@JsonRpcDescription("the model's name") String name) {
        try {
            if (placedInWorkers(name)) {
                return inWorkers(name, "evicted");
            }
            if (registry.evict(name)) {
                return new ActionResult(true, "Model '" + name + "' was unloaded; the next request loads it again");
            }
            ModelStats stats = registry.stats(name);
            return new ActionResult(false, "Model '" + name + "' was not unloaded: " + (stats.liveHandles() > 0
                    ? stats.liveHandles() + " handle(s) to it are open"
                    : "it is " + text(stats.state())));
        } catch (ModelSharingException e) {
            return new ActionResult(false, "Model '" + name + "' could not be evicted: " + e.getMessage());
        }
    }

    @JsonRpcDescription("Restarts a managed worker: its process is killed and supervision starts it again")
    public ActionResult restartWorker(@JsonRpcDescription("the worker's name, e.g. cpu#0") String name) {
        try {
            return workers.restart(name)
                    ? new ActionResult(true, "Worker '" + name + "' was killed; it is being started again")
                    : new ActionResult(false, "Worker '" + name + "' is down already; its restart is under way");
        } catch (ModelSharingException e) {
            return new ActionResult(false, e.getMessage());
        }
    }

    private ModelView view(String name) {
        String placement = config.models().get(name).placement().name().toLowerCase(Locale.ROOT).replace('_', '-');
        if (placedInWorkers(name)) {
            return new ModelView(name, placement, registry.describe(name), "in workers", 0, 0, 0, 0, 0, 0, 0, 0, null);
        }
        ModelStats stats = registry.stats(name);
        Throwable failure = registry.lastFailure(name);
        return new ModelView(name, placement, registry.describe(name), text(stats.state()), stats.bytes(), stats.hits(),
                stats.misses(), stats.loads(), stats.loadFailures(), stats.evictions(), stats.liveHandles(),
                stats.lastLoadTime().toMillis(), stats.state() == ModelState.FAILED && failure != null
                        ? failure.getMessage()
                        : null);
    }

    private boolean placedInWorkers(String name) {
        registry.describe(name); // an unknown name fails here, with the names there are
        return config.models().get(name).placement() == Placement.WORKER;
    }

    private static ActionResult inWorkers(String name, String what) {
        return new ActionResult(false, "Model '" + name + "' runs in workers (placement=worker), so it is not " + what
                + " here: restart the workers to load it afresh");
    }

    private static String text(ModelState state) {
        return state.name().toLowerCase(Locale.ROOT);
    }
}
