package io.quarkiverse.modelsharing.runtime;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

import org.jboss.logging.Logger;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.BatchingInferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.Padding;
import io.quarkiverse.modelsharing.inference.RegistryInferenceModel;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.OnnxModelInfo;
import io.quarkiverse.modelsharing.onnx.OnnxModelInspector;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.OnnxRuntimeLibrary;
import io.quarkiverse.modelsharing.onnx.OnnxSessionSettings;
import io.quarkiverse.modelsharing.registry.ModelHandle;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.registry.RegistrySettings;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.BatchingConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.LoadMode;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.ModelRuntimeConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.Placement;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.RegistryConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.RemoteConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.SharedMemoryConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.WorkerMode;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.WorkersConfig;
import io.quarkiverse.modelsharing.runtime.eventbus.TensorMessageCodec;
import io.quarkiverse.modelsharing.runtime.oip.RemoteInferenceModel;
import io.quarkiverse.modelsharing.runtime.oip.RemoteModels;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPlacedModel;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;
import io.quarkiverse.modelsharing.shm.SharedMemory;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.text.Pooling;
import io.quarkiverse.modelsharing.text.TextModel;
import io.quarkiverse.modelsharing.text.TextSettings;
import io.quarkiverse.modelsharing.text.TextTokenizer;
import io.quarkus.runtime.RuntimeValue;
import io.quarkus.runtime.ShutdownContext;
import io.quarkus.runtime.annotations.Recorder;
import io.vertx.core.Vertx;

/**
 * Creates the application's model registry from the build's model list and the run-time configuration.
 */
@Recorder
public class ModelSharingRecorder {

    private static final Logger LOG = Logger.getLogger(ModelSharingRecorder.class);

    private final RuntimeValue<ModelSharingConfig> config;

    /**
     * Each model's placement-transparent handle, shared by its {@code InferenceModel} and text beans so that all
     * their callers batch in one queue; and each text model's tokenizer. Emptied (and closed) at shutdown.
     */
    private static final Map<String, InferenceModel> PLACED = new ConcurrentHashMap<>();
    private static final Map<String, TextTokenizer> TOKENIZERS = new ConcurrentHashMap<>();
    /** A text model's length buckets unless configured: see {@code batching.bucket-width}. */
    static final int TEXT_BUCKET_WIDTH = 16;

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
        if (shareOnnxRuntime
                && paths.keySet().stream().anyMatch(name -> modelConfig(name).placement() == Placement.IN_PROCESS)) {
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
        shutdown.addShutdownTask(ModelSharingRecorder::closeShared);
        ClassLoader classLoader = Thread.currentThread().getContextClassLoader();
        paths.forEach((name, path) -> registry.register(name, loader(name, ModelSource.parse(path, classLoader))));
        if (watchFiles) {
            ModelFileWatcher watcher = new ModelFileWatcher(registry, paths, classLoader);
            shutdown.addShutdownTask(watcher::close);
        }
        // Models placed in workers are loaded there (see createWorkerPool), never here.
        paths.keySet().stream().filter(name -> modelConfig(name).load() == LoadMode.EAGER
                && modelConfig(name).placement() == Placement.IN_PROCESS).sorted().forEach(name -> {
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
    public RuntimeValue<WorkerPool> createWorkerPool(Map<String, String> paths, Map<String, TextModelShape> texts,
            RuntimeValue<TensorAllocator> allocator, ShutdownContext shutdown) {
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
        Map<String, Padding> paddings = new TreeMap<>();
        placed.keySet().forEach(name -> {
            Padding padding = padding(name, texts.get(name));
            if (padding != null) {
                paddings.put(name, padding);
            }
        });
        WorkerPool pool;
        if (workers.mode() == WorkerMode.EXTERNAL) {
            Path socket = workers.socket().orElseThrow(() -> new ModelSharingException("Models " + placed.keySet()
                    + " are placed in workers in external mode, but quarkus.model-sharing.workers.socket is not set:"
                    + " set it to the worker daemon's socket"));
            Map<String, String> register = workers.registerModels() ? placed : Map.of();
            pool = workers.sharedDaemonLinger()
                    .map(linger -> WorkerPool.sharedDaemon(socket, linger, allocator.getValue(), workers.timeout(),
                            register, paddings, workers.heartbeatInterval(), workers.heartbeatTimeout()))
                    .orElseGet(() -> WorkerPool.external(socket, allocator.getValue(), workers.timeout(), register,
                            paddings, workers.heartbeatInterval(), workers.heartbeatTimeout()));
        } else {
            List<String> options = List.of("--threads", Integer.toString(workers.threads()), "--queue",
                    Integer.toString(workers.queue()), "--max-batch", Integer.toString(workers.maxBatch()), "--max-delay",
                    workers.maxDelay().toMillis() + "ms", "--timeout", workers.timeout().toSeconds() + "s");
            pool = WorkerPool.managed(workers.devices(), workers.perDevice(), placed, paddings, options,
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

    /**
     * The models placed on remote servers, each with its web client; eager ones are checked at startup against their
     * server's metadata (and their model file, if configured), so that a remote that is down or serves another model
     * fails startup.
     *
     * @param remoteOnly the models that have a url and no file
     */
    public RuntimeValue<RemoteModels> createRemoteModels(Map<String, String> paths, Set<String> remoteOnly,
            Supplier<Vertx> vertx, RuntimeValue<TensorAllocator> allocator, ShutdownContext shutdown) {
        Map<String, RemoteInferenceModel> remotes = new TreeMap<>();
        Set<String> names = new TreeSet<>(paths.keySet());
        names.addAll(remoteOnly);
        shutdown.addShutdownTask(() -> remotes.values().forEach(RemoteInferenceModel::close));
        for (String name : names) {
            ModelRuntimeConfig model = modelConfig(name);
            if (model.placement() != Placement.REMOTE) {
                if (remoteOnly.contains(name)) {
                    throw new ModelSharingException("Model '" + name + "' has a url and no path, but its placement is "
                            + model.placement().name().toLowerCase().replace('_', '-') + ": set quarkus.model-sharing.models.\""
                            + name + "\".placement=remote, or give it a path to run it here");
                }
                continue;
            }
            String url = model.url().orElseThrow(() -> new ModelSharingException("Model '" + name + "' is placed remotely,"
                    + " but quarkus.model-sharing.models.\"" + name + "\".url is not set: set it to the server's base URL,"
                    + " e.g. http://triton:8000"));
            RemoteConfig remote = model.remote();
            long maxResponse = remote.maxResponseSize().asLongValue();
            if (maxResponse <= 0 || maxResponse > Integer.MAX_VALUE - 8) {
                throw new ModelSharingException("Model '" + name + "': quarkus.model-sharing.models.\"" + name
                        + "\".remote.max-response-size is " + maxResponse + " bytes: it is more than 0 and less than 2G,"
                        + " the most one answer's buffer holds");
            }
            // read when the remote's metadata is first checked: at startup for an eager model, at first use otherwise
            Supplier<RemoteInferenceModel.Metadata> expected = null;
            if (paths.containsKey(name)) {
                String path = paths.get(name);
                ClassLoader classLoader = Thread.currentThread().getContextClassLoader();
                expected = () -> {
                    try {
                        OnnxModelInfo info = OnnxModelInspector.inspect(ModelSource.parse(path, classLoader));
                        return new RemoteInferenceModel.Metadata(info.inputs(), info.outputs());
                    } catch (IOException | RuntimeException e) {
                        throw new ModelSharingException("Model '" + name + "': " + path + " cannot be read to check its"
                                + " remote server against it: " + e.getMessage(), e);
                    }
                };
            }
            RemoteInferenceModel client = new RemoteInferenceModel(name, new RemoteInferenceModel.Settings(url,
                    remote.name().orElse(name), remote.version().orElse(null), remote.timeout(), remote.connectTimeout(),
                    remote.maxConnections(), remote.binary(), maxResponse), vertx.get(),
                    allocator.getValue(), expected);
            remotes.put(name, client);
            if (model.load() == LoadMode.EAGER) {
                client.check();
                LOG.infof("Model '%s' is served by %s", name, client.endpoint());
            }
        }
        return new RuntimeValue<>(new RemoteModels(remotes));
    }

    /**
     * The placement-transparent inference handle for {@code @Model("name") InferenceModel}: in process, batched if
     * the model's batching is on; in workers, which batch themselves; or on a remote server.
     *
     * @param text what the build found of a text model's inputs and outputs, or null for another model
     */
    public Supplier<InferenceModel> inferenceModel(RuntimeValue<ModelRegistry> registry, RuntimeValue<WorkerPool> workers,
            RuntimeValue<RemoteModels> remotes, String name, TextModelShape text) {
        return () -> placed(registry, workers, remotes, name, text);
    }

    /** The text API of {@code @Model("name")} for a model configured with a tokenizer, over its shared handle. */
    public Supplier<TextModel> textModel(RuntimeValue<ModelRegistry> registry, RuntimeValue<WorkerPool> workers,
            RuntimeValue<RemoteModels> remotes, String name, TextModelShape text) {
        return () -> {
            ModelRuntimeConfig model = modelConfig(name);
            Pooling pooling = model.poolingConfig().map(location -> Pooling.fromSentenceTransformers(
                    new String(read(name, "pooling-config", location), StandardCharsets.UTF_8))).orElse(model.pooling());
            TextSettings settings = new TextSettings(text.getTask(), pooling, model.normalize(), model.maxTokens(),
                    model.truncate(), model.labels().orElse(List.of()), model.batching().maxBatch());
            return new TextModel(placed(registry, workers, remotes, name, text), tokenizer(name, text), settings);
        };
    }

    private InferenceModel placed(RuntimeValue<ModelRegistry> registry, RuntimeValue<WorkerPool> workers,
            RuntimeValue<RemoteModels> remotes, String name, TextModelShape text) {
        return PLACED.computeIfAbsent(name, key -> {
            ModelRuntimeConfig model = modelConfig(name);
            if (model.placement() == Placement.WORKER) {
                return new WorkerPlacedModel(name, workers.getValue(), config.getValue().workers().timeout());
            }
            if (model.placement() == Placement.REMOTE) {
                return remotes.getValue().get(name).orElseThrow();
            }
            InferenceModel inProcess = new RegistryInferenceModel(registry.getValue(), name);
            if (!batches(name, text)) {
                return inProcess;
            }
            BatchingConfig batching = model.batching();
            return new BatchingInferenceModel(inProcess, new BatchingInferenceModel.Settings(batching.maxBatch(),
                    batching.maxDelay().toNanos(), batching.concurrentRuns(), padding(name, text)), TensorAllocator.offHeap());
        });
    }

    /**
     * How a model's requests of different lengths are padded to batch: as configured, or a text model's padding from
     * its tokenizer; null if the model does not batch, or batches only requests of one shape.
     */
    private Padding padding(String name, TextModelShape text) {
        if (!batches(name, text)) {
            return null;
        }
        BatchingConfig batching = modelConfig(name).batching();
        Set<String> sequence = batching.sequenceOutputs()
                .orElse(text != null ? Set.copyOf(text.getSequenceOutputs()) : Set.of());
        try {
            if (!batching.pad().isEmpty()) {
                return new Padding(batching.pad(), batching.padDimension(), sequence, batching.bucketWidth().orElse(0));
            }
            if (text != null) {
                return Padding.text(tokenizer(name, text).padId(), Set.copyOf(text.getInputs()), sequence,
                        batching.bucketWidth().orElse(TEXT_BUCKET_WIDTH));
            }
        } catch (IllegalArgumentException e) {
            throw new ModelSharingException("Model '" + name + "': quarkus.model-sharing.models.\"" + name
                    + "\".batching is wrong: " + e.getMessage(), e);
        }
        return null;
    }

    /** Whether a model batches: as configured, and by default if it is a text model (one with a tokenizer). */
    private boolean batches(String name, TextModelShape text) {
        return modelConfig(name).batching().enabled().orElse(text != null);
    }

    private TextTokenizer tokenizer(String name, TextModelShape text) {
        return TOKENIZERS.computeIfAbsent(name, key -> {
            byte[] json = read(name, "tokenizer", text.getTokenizer());
            try {
                return TextTokenizer.read(new ByteArrayInputStream(json), text.getTokenizer(), modelConfig(name).maxTokens());
            } catch (IllegalArgumentException e) {
                throw new ModelSharingException("Model '" + name + "': " + e.getMessage(), e);
            }
        });
    }

    private static byte[] read(String name, String key, String location) {
        try {
            return ModelSource.parse(location, Thread.currentThread().getContextClassLoader()).readAllBytes();
        } catch (IOException | RuntimeException e) {
            throw new ModelSharingException("Model '" + name + "': quarkus.model-sharing.models.\"" + name + "\"." + key
                    + "=" + location + " cannot be read: " + e.getMessage(), e);
        }
    }

    /** The in-process batcher of model {@code name}, if it batches in process and a bean has used it. */
    public static Optional<BatchingInferenceModel> batching(String name) {
        return PLACED.get(name) instanceof BatchingInferenceModel batching ? Optional.of(batching) : Optional.empty();
    }

    private static void closeShared() {
        PLACED.values().forEach(model -> {
            if (model instanceof BatchingInferenceModel batching) {
                batching.close();
            }
        });
        PLACED.clear();
        TOKENIZERS.values().forEach(TextTokenizer::close);
        TOKENIZERS.clear();
    }

    /** A fresh raw handle for {@code @Model("name") ModelHandle<OnnxModel>}; the bean's destruction closes it. */
    public Supplier<ModelHandle<OnnxModel>> handle(RuntimeValue<ModelRegistry> registry, String name) {
        return () -> {
            Placement placement = modelConfig(name).placement();
            if (placement != Placement.IN_PROCESS) {
                throw new ModelSharingException("Model '" + name + "' runs " + (placement == Placement.WORKER
                        ? "in workers (placement=worker)"
                        : "on a remote server (placement=remote)") + ": inject"
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
