package io.quarkiverse.modelsharing.runtime;

import java.time.Duration;
import java.util.Map;
import java.util.function.Supplier;

import org.jboss.logging.Logger;

import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.RegistryInferenceModel;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.OnnxSessionSettings;
import io.quarkiverse.modelsharing.registry.ModelHandle;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.registry.RegistrySettings;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.LoadMode;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.ModelRuntimeConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.RegistryConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingConfig.SharedMemoryConfig;
import io.quarkiverse.modelsharing.runtime.eventbus.TensorMessageCodec;
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
     */
    public RuntimeValue<ModelRegistry> createRegistry(Map<String, String> paths, boolean watchFiles,
            ShutdownContext shutdown) {
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
        paths.keySet().stream().filter(name -> modelConfig(name).load() == LoadMode.EAGER).sorted().forEach(name -> {
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
                    shm.maxSize().asLongValue(), SharedMemorySettings.DEFAULT_JANITOR_PERIOD));
            if (allocator instanceof SharedMemoryPool pool) {
                shutdown.addLastShutdownTask(pool::close);
                LOG.debugf("Shared-memory tensors in %s", pool.directory());
            }
        }
        TensorMessageCodec.configure(allocator, config.getValue().eventBus().wireHold());
        return new RuntimeValue<>(allocator);
    }

    /** The placement-transparent inference handle for {@code @Model("name") InferenceModel}. */
    public Supplier<InferenceModel> inferenceModel(RuntimeValue<ModelRegistry> registry, String name) {
        return () -> new RegistryInferenceModel(registry.getValue(), name);
    }

    /** A fresh raw handle for {@code @Model("name") ModelHandle<OnnxModel>}; the bean's destruction closes it. */
    public Supplier<ModelHandle<OnnxModel>> handle(RuntimeValue<ModelRegistry> registry, String name) {
        return () -> registry.getValue().acquire(name, OnnxModel.class);
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
