package io.quarkiverse.modelsharing.runtime;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Supplier;

import org.jboss.logging.Logger;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.RegistryInferenceModel;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.OnnxRuntimeLibrary;
import io.quarkiverse.modelsharing.onnx.OnnxSessionSettings;
import io.quarkiverse.modelsharing.registry.ModelHandle;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.registry.RegistrySettings;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.LoadMode;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.ModelRuntimeConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.Placement;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.RegistryConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.SharedMemoryConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.WorkerMode;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.WorkersConfig;
import io.quarkiverse.modelsharing.runtime.eventbus.TensorMessageCodec;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPlacedModel;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;
import io.quarkiverse.modelsharing.shm.SharedMemory;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkus.runtime.RuntimeValue;
import io.quarkus.runtime.ShutdownContext;
import io.quarkus.runtime.annotations.Recorder;

/**
 * Creates the application's model registry from the build's model list and the run-time configuration.
 */
@Recorder
public class ModelSharingRecorder {

    private static final Logger LOG = Logger.getLogger(ModelSharingRecorder.class);

    private final RuntimeValue<ModelSharingConfig> config;

    public ModelSharingRecorder(RuntimeValue<ModelSharingConfig> config) {
        this.config = config;
    }

    /**
     * The registry with every configured model registered; eager models are loaded before this returns, so that a
     * model that cannot load fails startup.
     *
     * @param paths each model's configured location, by name, as the build checked it
     * @param watchFiles whether to reload a model when its file changes (dev mode)
     * @param shareOnnxRuntime whether ONNX Runtime, if a model runs in process, loads its native library from the
     *        user's shared copy: in a production application only, as Quarkus' test and dev-mode class loaders may load
     *        ONNX Runtime twice in one JVM, which the JVM refuses for one library file
     */
    public RuntimeValue<ModelRegistry> createRegistry(Map<String, String> paths, boolean watchFiles, boolean shareOnnxRuntime,
            ShutdownContext shutdown) {
        if (shareOnnxRuntime && paths.keySet().stream().anyMatch(name -> modelConfig(name).placement() != Placement.WORKER)) {
            OnnxRuntimeLibrary.useSharedCopy().ifPresent(
                    directory -> LOG.infof("ONNX Runtime loads its native library from the user's shared copy in %s",
                            directory));
        }
        RegistryConfig registryConfig = config.getValue().registry();
        Duration idle = registryConfig.idleTimeout();
        ModelRegistry registry = new RegistrySettings.Builder()
                .policy(registryConfig.policy())
                .maxMemoryBytes(registryConfig.maxMemory().map(size -> size.asLongValue()).orElse(0L))
                .maxModels(registryConfig.maxModels().orElse(0))
                .idleTimeout(idle.isZero() ? null : idle)
                .build();
        shutdown.addShutdownTask(registry::close);
        ClassLoader classLoader = Thread.currentThread().getContextClassLoader();
        paths.forEach((name, path) -> registry.register(name, loader(name, ModelSource.parse(path, classLoader))));
        if (watchFiles) {
            ModelFileWatcher watcher = new ModelFileWatcher(registry, paths, classLoader);
            shutdown.addShutdownTask(watcher::close);
        }
        // Models placed in workers are loaded there (see createWorkerPool), never here.
        paths.keySet().stream().filter(name -> modelConfig(name).load() == LoadMode.EAGER
                && modelConfig(name).placement() != Placement.WORKER).sorted().forEach(name -> {
                    registry.acquire(name).close();
                    LOG.infof("Loaded model '%s' from %s at startup", name, registry.describe(name));
                });
        return new RuntimeValue<>(registry);
    }

    /**
     * The application's tensor allocator: shared-memory pools when enabled and usable, this process's memory
     * otherwise. Also what the event-bus codec sends and receives tensors with.
     */
    public RuntimeValue<TensorAllocator> createTensorAllocator(ShutdownContext shutdown) {
        SharedMemoryConfig shm = config.getValue().sharedMemory();
        TensorAllocator allocator = TensorAllocator.offHeap();
        if (shm.enabled()) {
            allocator = SharedMemory.allocator(new SharedMemorySettings(shm.directory(), shm.poolFileSize().asLongValue(),
                    shm.maxSize().asLongValue(), SharedMemorySettings.DEFAULT_JANITOR_PERIOD, shm.namedFiles()));
            if (allocator instanceof SharedMemoryPool pool) {
                shutdown.addLastShutdownTask(pool::close);
                LOG.debugf("Shared-memory tensors in %s", shm.namedFiles() ? pool.directory() : "memfd pools");
            }
        }
        TensorMessageCodec.configure(allocator, config.getValue().eventBus().wireHold());
        return new RuntimeValue<>(allocator);
    }

    /**
     * The workers that serve the models placed in them: none if every model runs in process; otherwise the managed
     * workers, started and waited for here, or the external daemon.
     */
    public RuntimeValue<WorkerPool> createWorkerPool(Map<String, String> paths, RuntimeValue<TensorAllocator> allocator,
            ShutdownContext shutdown) {
        ModelSharingConfig all = config.getValue();
        Map<String, String> placed = new TreeMap<>();
        paths.forEach((name, path) -> {
            if (modelConfig(name).placement() == Placement.WORKER) {
                placed.put(name, path);
            }
        });
        if (placed.isEmpty()) {
            return new RuntimeValue<>(WorkerPool.none());
        }
        WorkersConfig workers = all.workers();
        WorkerPool pool;
        if (workers.mode() == WorkerMode.EXTERNAL) {
            Path socket = workers.socket().orElseThrow(() -> new ModelSharingException("Models " + placed.keySet()
                    + " are placed in workers in external mode, but quarkus.model-sharing.workers.socket is not set:"
                    + " set it to the worker daemon's socket"));
            Map<String, String> register = workers.registerModels() ? placed : Map.of();
            pool = workers.sharedDaemonLinger()
                    .map(linger -> WorkerPool.sharedDaemon(socket, linger, allocator.getValue(), workers.timeout(),
                            register, workers.heartbeatInterval(), workers.heartbeatTimeout()))
                    .orElseGet(() -> WorkerPool.external(socket, allocator.getValue(), workers.timeout(), register,
                            workers.heartbeatInterval(), workers.heartbeatTimeout()));
        } else {
            List<String> options = List.of("--threads", Integer.toString(workers.threads()), "--queue",
                    Integer.toString(workers.queue()), "--max-batch", Integer.toString(workers.maxBatch()), "--max-delay",
                    workers.maxDelay().toMillis() + "ms", "--timeout", workers.timeout().toSeconds() + "s");
            pool = WorkerPool.managed(workers.devices(), workers.perDevice(), placed, options,
                    all.sharedMemory().directory(), allocator.getValue(), workers.startTimeout(), workers.timeout(),
                    workers.stablePeriod(), workers.heartbeatInterval(), workers.heartbeatTimeout());
        }
        shutdown.addShutdownTask(pool::close);
        // A model that cannot load fails startup here; the shutdown task above then stops the workers.
        Set<String> eager = new TreeSet<>();
        placed.keySet().stream().filter(name -> modelConfig(name).load() == LoadMode.EAGER).forEach(eager::add);
        if (!eager.isEmpty()) {
            pool.loadEagerly(eager, workers.startTimeout());
            LOG.infof("Loaded %s in %d worker(s) at startup", eager.size() == 1 ? "model '" + eager.iterator().next() + "'"
                    : "models " + eager, pool.size());
        }
        return new RuntimeValue<>(pool);
    }

    /** The placement-transparent inference handle for {@code @Model("name") InferenceModel}. */
    public Supplier<InferenceModel> inferenceModel(RuntimeValue<ModelRegistry> registry, RuntimeValue<WorkerPool> workers,
            String name) {
        Duration timeout = config.getValue().workers().timeout();
        return () -> modelConfig(name).placement() == Placement.WORKER
                ? new WorkerPlacedModel(name, workers.getValue(), timeout)
                : new RegistryInferenceModel(registry.getValue(), name);
    }

    /** A fresh raw handle for {@code @Model("name") ModelHandle<OnnxModel>}; the bean's destruction closes it. */
    public Supplier<ModelHandle<OnnxModel>> handle(RuntimeValue<ModelRegistry> registry, String name) {
        return () -> {
            if (modelConfig(name).placement() == Placement.WORKER) {
                throw new ModelSharingException("Model '" + name + "' runs in workers (placement=worker): inject"
                        + " @Model(\"" + name + "\") InferenceModel; a raw ModelHandle<OnnxModel> exists only in process");
            }
            return registry.getValue().acquire(name, OnnxModel.class);
        };
    }

    private OnnxModelLoader loader(String name, ModelSource source) {
        ModelRuntimeConfig model = modelConfig(name);
        OnnxSessionSettings settings = new OnnxSessionSettings(model.intraOpThreads().orElse(0),
                model.interOpThreads().orElse(0), model.optimizationLevel());
        return new OnnxModelLoader(name, source, settings, model.memoryEstimate().map(size -> size.asLongValue()).orElse(0L),
                model.warmUp());
    }

    private ModelRuntimeConfig modelConfig(String name) {
        return config.getValue().models().get(name);
    }
}
