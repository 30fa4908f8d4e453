package io.quarkiverse.modelsharing.registry;

import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.quarkiverse.modelsharing.ModelSharingException;

/**
 * Loads each registered model once per process and shares it through counted {@link ModelHandle}s.
 * <p>
 * Concurrent first callers for a model wait for one load; a failed load fails all of them and the next caller
 * tries again. Idle models (no open handle) are unloaded by the {@link EvictionPolicy} when a load needs room
 * under the memory budget or model count, and after the idle timeout; a model with an open handle never is.
 *
 * <pre>{@code
 * try (ModelRegistry registry = ModelRegistry.builder().maxMemoryBytes(2L << 30).build()) {
 *     registry.register("embedder", OnnxModelLoader.of(ModelSource.file(path), OnnxSessionSettings.DEFAULT));
 *     try (ModelHandle<OnnxModel> handle = registry.acquire("embedder", OnnxModel.class)) {
 *         ...
 *     }
 * }
 * }</pre>
 */
public final class ModelRegistry implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(ModelRegistry.class.getName());

    private final Map<String, ModelSlot> slots = new ConcurrentHashMap<>();
    private final RegistrySettings settings;
    private final ScheduledExecutorService sweeper;
    private final long sweepPeriodNanos;
    /** Bytes and models accounted to loaded instances and loads in flight; guarded by {@code this}. */
    private long reservedBytes;
    private int reservedModels;
    private volatile boolean closed;

    ModelRegistry(RegistrySettings settings) {
        this.settings = settings;
        Duration idle = settings.idleTimeout();
        if (idle != null && settings.policy() != EvictionPolicy.MANUAL) {
            long period = Math.clamp(idle.toNanos() / 10, TimeUnit.MILLISECONDS.toNanos(10), TimeUnit.SECONDS.toNanos(1));
            this.sweepPeriodNanos = period;
            this.sweeper = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon()
                    .name("model-registry-idle-sweeper").factory());
            sweeper.scheduleAtFixedRate(this::unloadIdle, period, period, TimeUnit.NANOSECONDS);
        } else {
            this.sweepPeriodNanos = 0;
            this.sweeper = null;
        }
    }

    public static RegistrySettings.Builder builder() {
        return new RegistrySettings.Builder();
    }

    public RegistrySettings settings() {
        return settings;
    }

    /**
     * Registers a model under {@code name}, or replaces the loader of one: a loaded model is retired (unloaded once
     * its open handles close) and the next caller loads it from the new loader. A load in flight is superseded: what
     * it loads is closed, and its callers get a load from the new loader.
     */
    public void register(String name, ModelLoader<?> loader) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("a model name must not be blank");
        }
        checkOpen();
        ModelSlot existing = slots.putIfAbsent(name, new ModelSlot(name, loader));
        if (existing != null) {
            existing.loader = loader;
            retire(existing);
        }
    }

    /** Names of the registered models. */
    public Set<String> names() {
        return Set.copyOf(slots.keySet());
    }

    public boolean isRegistered(String name) {
        return slots.containsKey(name);
    }

    /** What {@code name} is loaded from. */
    public String describe(String name) {
        return slot(name).loader.describe();
    }

    /** Whether {@code name}'s source is there to load. */
    public boolean isAvailable(String name) {
        return slot(name).loader.isAvailable();
    }

    /**
     * A handle to the model, loading it first if no one has.
     *
     * @throws ModelNotFoundException if no model has that name
     * @throws ModelLoadException if loading fails
     * @throws ModelAdmissionException if the model cannot fit the budget even after evicting idle models
     */
    public ModelHandle<?> acquire(String name) {
        return acquire(name, Object.class);
    }

    /** A handle to the model, typed; fails if the loaded model is not a {@code type}. */
    public <M> ModelHandle<M> acquire(String name, Class<M> type) {
        ModelSlot slot = slot(name);
        boolean missed = false;
        for (;;) {
            checkOpen();
            LoadedModel instance = slot.current;
            if (instance != null && instance.tryRetain()) {
                if (!instance.retired) {
                    if (!missed) {
                        slot.hits.increment();
                        slot.uses.increment();
                    }
                    instance.lastUsedNanos = System.nanoTime();
                    return handle(instance, type);
                }
                release(instance);
            }
            if (!missed) {
                missed = true;
                slot.misses.increment();
                slot.uses.increment();
            }
            LoadedModel loaded = loadOrJoin(slot);
            if (loaded != null) {
                return handle(loaded, type);
            }
        }
    }

    /** Unloads the model now if it is loaded and idle; returns whether it did. */
    public boolean evict(String name) {
        LoadedModel instance = slot(name).current;
        return instance != null && instance.tryClaim() && unload(instance, "evicted on request");
    }

    /** Unloads every idle model now; returns how many. */
    public int evictIdle() {
        int count = 0;
        for (ModelSlot slot : slots.values()) {
            LoadedModel instance = slot.current;
            if (instance != null && instance.tryClaim() && unload(instance, "evicted on request")) {
                count++;
            }
        }
        return count;
    }

    /**
     * Makes the next caller load {@code name} afresh; open handles keep the old load until they close. A load in
     * flight is superseded: what it loads is closed, and its callers get a load started after this call.
     */
    public void reload(String name) {
        retire(slot(name));
    }

    public ModelState state(String name) {
        return slot(name).state();
    }

    /** Why the last load of {@code name} failed, or {@code null}. */
    public Throwable lastFailure(String name) {
        return slot(name).lastFailure;
    }

    public ModelStats stats(String name) {
        ModelSlot slot = slot(name);
        LoadedModel instance = slot.current;
        boolean loaded = instance != null && !instance.isUnloaded();
        return new ModelStats(name, slot.state(), slot.hits.sum(), slot.misses.sum(), slot.loads.sum(),
                slot.loadFailures.sum(), Duration.ofNanos(slot.lastLoadNanos), Duration.ofNanos(slot.totalLoadNanos.sum()),
                slot.evictions.sum(), loaded ? instance.bytes : 0, loaded ? instance.liveHandles() : 0);
    }

    /** Every model's counters, by name. */
    public Map<String, ModelStats> stats() {
        Map<String, ModelStats> all = new TreeMap<>();
        slots.keySet().forEach(name -> all.put(name, stats(name)));
        return all;
    }

    /** Bytes accounted to loaded models and loads in flight. */
    public synchronized long usedBytes() {
        return reservedBytes;
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Unloads every model. Models that still have open handles are unloaded when the last one closes; meanwhile
     * those handles fail with {@link ModelUnavailableException}. A load in flight closes what it loaded when it
     * finishes, and its callers fail with {@link ModelUnavailableException}.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (sweeper != null) {
            sweeper.shutdownNow();
        }
        for (ModelSlot slot : slots.values()) {
            LoadedModel instance = slot.current;
            retire(slot);
            if (instance != null && !instance.isUnloaded()) {
                LOG.log(Level.WARNING, "Model ''{0}'' still has {1} open handle(s) at shutdown; it is unloaded when they close",
                        slot.name, instance.liveHandles());
            }
        }
    }

    void release(LoadedModel instance) {
        instance.lastUsedNanos = System.nanoTime();
        if (instance.release() == 0 && instance.retired && instance.tryClaim()) {
            unload(instance, "retired");
        }
    }

    private <M> ModelHandle<M> handle(LoadedModel instance, Class<M> type) {
        if (!type.isInstance(instance.model)) {
            release(instance);
            throw new ModelSharingException("Model '" + instance.name + "' is a " + instance.model.getClass().getName()
                    + ", not a " + type.getName());
        }
        return new ModelHandle<>(this, instance, type.cast(instance.model));
    }

    /**
     * Loads the slot's model if no load is in flight (returning it with one reference for the caller), or waits
     * for the load in flight and returns {@code null} so that the caller retries the fast path. A load that the slot
     * was retired during installs nothing and fails no one: it is closed, and every caller retries.
     */
    private LoadedModel loadOrJoin(ModelSlot slot) {
        CompletableFuture<LoadedModel> load;
        boolean leader;
        long generation;
        long retirements;
        ModelLoader<?> loader;
        synchronized (slot) {
            LoadedModel current = slot.current;
            if (current != null && !current.retired && !current.isUnloaded()) {
                return null;
            }
            leader = slot.loading == null;
            if (leader) {
                slot.loading = new CompletableFuture<>();
            }
            load = slot.loading;
            generation = leader ? ++slot.generations : 0;
            retirements = slot.retirements;
            loader = slot.loader;
        }
        if (!leader) {
            try {
                load.join();
            } catch (CompletionException e) {
                // Each waiter gets its own exception, of the same kind and message as the leader's.
                if (e.getCause() instanceof ModelAdmissionException refused) {
                    throw new ModelAdmissionException(refused.getMessage(), refused.bytesNeeded(), refused.bytesAvailable());
                }
                throw new ModelLoadException(e.getCause().getMessage(), e.getCause());
            }
            return null;
        }
        LoadedModel loaded;
        try {
            loaded = load(slot, loader, generation);
        } catch (RuntimeException | Error e) {
            boolean stale;
            synchronized (slot) {
                slot.loading = null;
                stale = isStale(slot, retirements);
                if (!stale) {
                    slot.lastFailure = e;
                }
            }
            if (stale) {
                // Routine under churn (a full budget refuses loads that reloads overtake); a failure that lasts
                // reaches the callers from their retry.
                LOG.log(Level.DEBUG, "A load of model '" + slot.name + "' that a reload, a new registration or close()"
                        + " superseded failed; its callers do not get this failure but the model as it is now", e);
                load.complete(null);
                return null;
            }
            load.completeExceptionally(e);
            throw e;
        }
        boolean stale;
        synchronized (slot) {
            slot.loading = null;
            stale = isStale(slot, retirements);
            if (!stale) {
                slot.current = loaded;
                slot.lastFailure = null;
            }
        }
        if (stale) {
            // Installing it would serve a replaced loader or an old file, or leak it past close(): no handle has it.
            loaded.retired = true;
            release(loaded);
            load.complete(null);
            return null;
        }
        load.complete(loaded);
        return loaded;
    }

    /**
     * Whether the slot was retired since a load read {@code retirements}. Called under the slot's monitor, so that
     * a retirement comes either before this check or after the load is installed, where it retires the load.
     * {@link #close()} sets {@code closed} before it retires the slots, so a load that finishes after close() began is
     * stale even if it started after its slot was retired.
     */
    private boolean isStale(ModelSlot slot, long retirements) {
        return slot.retirements != retirements || closed;
    }

    private LoadedModel load(ModelSlot slot, ModelLoader<?> loader, long generation) {
        long bytes = loader.estimateBytes();
        admit(slot.name, bytes);
        long start = System.nanoTime();
        AutoCloseable model;
        try {
            model = loader.load();
        } catch (Exception | Error e) {
            unreserve(bytes);
            slot.loadFailures.increment();
            if (e instanceof ModelSharingException known) {
                throw known;
            }
            throw new ModelLoadException("Failed to load model '" + slot.name + "' from " + loader.describe() + ": "
                    + e.getMessage(), e);
        }
        long took = System.nanoTime() - start;
        slot.loads.increment();
        slot.lastLoadNanos = took;
        slot.totalLoadNanos.add(took);
        LOG.log(Level.DEBUG, "Loaded model ''{0}'' from {1} in {2} ms", slot.name, loader.describe(), took / 1_000_000);
        return new LoadedModel(slot.name, model, bytes, generation, System.nanoTime());
    }

    /** Reserves room for a model, evicting idle models by policy; fails with the bytes needed and available. */
    private synchronized void admit(String name, long bytes) {
        long budget = settings.maxMemoryBytes();
        if (budget > 0 && bytes > budget) {
            throw new ModelAdmissionException("Cannot load model '" + name + "': it needs " + Bytes.format(bytes)
                    + " and the whole memory budget is " + Bytes.format(budget) + "; raise the budget", bytes, budget);
        }
        while (overBudget(bytes)) {
            LoadedModel victim = pickVictim();
            if (victim == null) {
                throw notAdmitted(name, bytes);
            }
            if (victim.tryClaim()) {
                unload(victim, "evicted (" + settings.policy() + ") to make room for '" + name + "'");
            }
        }
        reservedBytes += bytes;
        reservedModels++;
    }

    private boolean overBudget(long bytes) {
        long budget = settings.maxMemoryBytes();
        int maxModels = settings.maxModels();
        return (budget > 0 && reservedBytes + bytes > budget) || (maxModels > 0 && reservedModels + 1 > maxModels);
    }

    private LoadedModel pickVictim() {
        if (settings.policy() == EvictionPolicy.MANUAL) {
            return null;
        }
        Comparator<LoadedModel> order = Comparator.comparingLong(instance -> instance.lastUsedNanos);
        if (settings.policy() == EvictionPolicy.LFU) {
            order = Comparator.<LoadedModel> comparingLong(instance -> slots.get(instance.name).uses.sum())
                    .thenComparing(order);
        }
        return slots.values().stream().map(slot -> slot.current)
                .filter(instance -> instance != null && instance.isIdle())
                .min(order).orElse(null);
    }

    private ModelAdmissionException notAdmitted(String name, long bytes) {
        long budget = settings.maxMemoryBytes();
        long available = budget > 0 ? budget - reservedBytes : Long.MAX_VALUE;
        Map<String, String> inUse = new LinkedHashMap<>();
        slots.values().stream().map(slot -> slot.current).filter(instance -> instance != null && !instance.isUnloaded())
                .forEach(instance -> inUse.put(instance.name, Bytes.format(instance.bytes) + ", "
                        + instance.liveHandles() + " open handle(s)"));
        String limit = budget > 0 && reservedBytes + bytes > budget
                ? "it needs " + Bytes.format(bytes) + " but only " + Bytes.format(available) + " of the "
                        + Bytes.format(budget) + " memory budget are available"
                : "the registry holds at most " + settings.maxModels() + " model(s)";
        String idle = settings.policy() == EvictionPolicy.MANUAL ? " (policy MANUAL evicts nothing by itself)"
                : " after evicting every idle model";
        return new ModelAdmissionException("Cannot load model '" + name + "': " + limit + idle + "; loaded: " + inUse
                + ". Close handles, raise the limit, or evict models.", bytes, available);
    }

    private synchronized void unreserve(long bytes) {
        reservedBytes -= bytes;
        reservedModels--;
    }

    /**
     * Unloads an instance that was claimed; returns true. The model is closed before the slot forgets it, so that
     * a model reported unloaded has been closed.
     */
    private boolean unload(LoadedModel instance, String why) {
        try {
            instance.model.close();
        } catch (Exception e) {
            LOG.log(Level.WARNING, "Closing model '" + instance.name + "' failed", e);
        } finally {
            ModelSlot slot = slots.get(instance.name);
            if (slot != null) {
                slot.clear(instance);
                if (!instance.retired) {
                    slot.evictions.increment();
                }
            }
            unreserve(instance.bytes);
        }
        LOG.log(Level.DEBUG, "Unloaded model ''{0}'': {1}", instance.name, why);
        return true;
    }

    private void retire(ModelSlot slot) {
        LoadedModel instance;
        synchronized (slot) {
            instance = slot.current;
            slot.current = null;
            slot.lastFailure = null;
            slot.retirements++;
        }
        if (instance != null) {
            instance.retired = true;
            if (instance.tryClaim()) {
                unload(instance, "retired");
            }
        }
    }

    private void unloadIdle() {
        long now = System.nanoTime();
        // Unload at the last sweep before the deadline, so that no model stays past its idle timeout.
        long threshold = settings.idleTimeout().toNanos() - sweepPeriodNanos;
        for (ModelSlot slot : slots.values()) {
            LoadedModel instance = slot.current;
            if (instance != null && instance.isIdle() && now - instance.lastUsedNanos >= threshold && instance.tryClaim()) {
                unload(instance, "idle for " + Duration.ofNanos(now - instance.lastUsedNanos).toMillis() + " ms");
            }
        }
    }

    private ModelSlot slot(String name) {
        ModelSlot slot = slots.get(name);
        if (slot == null) {
            throw new ModelNotFoundException(name, slots.keySet());
        }
        return slot;
    }

    private void checkOpen() {
        if (closed) {
            throw new ModelUnavailableException("The model registry is closed (the application is shutting down)");
        }
    }
}
