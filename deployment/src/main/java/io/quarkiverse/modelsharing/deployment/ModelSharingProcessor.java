package io.quarkiverse.modelsharing.deployment;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import jakarta.enterprise.context.Dependent;
import jakarta.inject.Singleton;

import org.eclipse.microprofile.config.ConfigProvider;
import org.jboss.jandex.AnnotationInstance;
import org.jboss.jandex.AnnotationTarget;
import org.jboss.jandex.AnnotationValue;
import org.jboss.jandex.ClassType;
import org.jboss.jandex.DotName;
import org.jboss.jandex.ParameterizedType;
import org.jboss.jandex.Type;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.registry.ModelHandle;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.runtime.ModelHandleDestroyer;
import io.quarkiverse.modelsharing.runtime.ModelReadiness;
import io.quarkiverse.modelsharing.runtime.ModelSharingBuildTimeConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingRecorder;
import io.quarkiverse.modelsharing.runtime.TextModelShape;
import io.quarkiverse.modelsharing.runtime.health.ModelSharingHealthCheck;
import io.quarkiverse.modelsharing.runtime.metrics.ModelSharingMeterBinder;
import io.quarkiverse.modelsharing.runtime.oip.InferenceProtocolRoutes;
import io.quarkiverse.modelsharing.runtime.oip.RemoteModels;
import io.quarkiverse.modelsharing.runtime.oip.ServedModels;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;
import io.quarkiverse.modelsharing.text.TextClassifier;
import io.quarkiverse.modelsharing.text.TextEmbedder;
import io.quarkiverse.modelsharing.text.TextModel;
import io.quarkiverse.modelsharing.text.TextScorer;
import io.quarkus.arc.deployment.AdditionalBeanBuildItem;
import io.quarkus.arc.deployment.SyntheticBeanBuildItem;
import io.quarkus.deployment.Capabilities;
import io.quarkus.deployment.Capability;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.annotations.ExecutionTime;
import io.quarkus.deployment.annotations.Record;
import io.quarkus.deployment.builditem.CombinedIndexBuildItem;
import io.quarkus.deployment.builditem.FeatureBuildItem;
import io.quarkus.deployment.builditem.HotDeploymentWatchedFileBuildItem;
import io.quarkus.deployment.builditem.LaunchModeBuildItem;
import io.quarkus.deployment.builditem.ShutdownContextBuildItem;
import io.quarkus.deployment.metrics.MetricsCapabilityBuildItem;
import io.quarkus.runtime.LaunchMode;
import io.quarkus.runtime.metrics.MetricsFactory;
import io.quarkus.smallrye.health.deployment.spi.HealthBuildItem;
import io.quarkus.vertx.core.deployment.CoreVertxBuildItem;

/**
 * Finds the {@code @Model} injection points, checks them and the model files against the configuration, and
 * registers the registry and one inference handle and one raw handle bean per configured model.
 */
class ModelSharingProcessor {

    static final String FEATURE = "model-sharing";
    static final DotName MODEL = DotName.createSimple(Model.class);

    @BuildStep
    FeatureBuildItem feature() {
        return new FeatureBuildItem(FEATURE);
    }

    @BuildStep
    AdditionalBeanBuildItem qualifier() {
        return new AdditionalBeanBuildItem(Model.class);
    }

    @BuildStep
    ConfiguredModelsBuildItem checkModels(ModelSharingBuildTimeConfig config, CombinedIndexBuildItem index,
            BuildProducer<HotDeploymentWatchedFileBuildItem> watchedFiles) {
        Map<String, String> paths = new TreeMap<>();
        config.models().forEach((name, model) -> model.path().ifPresent(path -> paths.put(name, path)));
        Set<String> remote = remoteOnly(paths.keySet());
        ClassLoader classLoader = Thread.currentThread().getContextClassLoader();
        List<String> problems = new ArrayList<>(ModelValidator.checkFiles(paths, classLoader));
        config.models().forEach((name, model) -> {
            if (model.path().isEmpty() && !remote.contains(name)) {
                problems.add("Model '" + name + "' has no quarkus.model-sharing.models.\"" + name + "\".path: set it to"
                        + " the model file, or serve the model remotely with placement=remote and url=<server>");
            }
        });
        Map<String, TextModelShape> texts = new TreeMap<>();
        config.models().forEach((name, model) -> {
            if (model.tokenizer().isPresent() && model.path().isEmpty()) {
                problems.add("Text model '" + name + "' has a tokenizer but no path: a text model needs its model file"
                        + " (quarkus.model-sharing.models.\"" + name + "\".path), even when it runs remotely");
            } else if (model.tokenizer().isPresent()) {
                TextModelShape text = TextModelValidator.check(name, model, classLoader, problems);
                if (text != null) {
                    texts.put(name, text);
                }
            }
        });
        for (AnnotationInstance usage : index.getIndex().getAnnotations(MODEL)) {
            AnnotationValue value = usage.value();
            String name = value == null ? "" : value.asString();
            if (!paths.containsKey(name) && !remote.contains(name)) {
                problems.add("@Model(\"" + name + "\") on " + describe(usage.target()) + " names no configured model;"
                        + " configure it with quarkus.model-sharing.models.\"" + name + "\".path=<file or classpath:resource>");
                continue;
            }
            String text = TextModelValidator.checkInjection(usage, name, texts, describe(usage.target()));
            if (text != null) {
                problems.add(text);
            }
        }
        if (!problems.isEmpty()) {
            throw new ModelSharingException(ModelValidator.failure(problems, paths));
        }
        paths.values().stream().filter(path -> path.startsWith(ModelSource.CLASSPATH_PREFIX))
                // Copied into the running application on change, without a restart: the registry reloads the model.
                .forEach(path -> watchedFiles.produce(new HotDeploymentWatchedFileBuildItem(
                        path.substring(ModelSource.CLASSPATH_PREFIX.length()), false)));
        config.models().forEach((name, model) -> model.tokenizer()
                .filter(location -> location.startsWith(ModelSource.CLASSPATH_PREFIX))
                .ifPresent(location -> watchedFiles.produce(new HotDeploymentWatchedFileBuildItem(
                        location.substring(ModelSource.CLASSPATH_PREFIX.length()), true))));
        return new ConfiguredModelsBuildItem(paths, texts, remote);
    }

    /**
     * The models configured with a {@code url} and no {@code path}: served by a remote server only. Their url is
     * run-time configuration, but the build must know their names to check the injection points that use them.
     */
    private static Set<String> remoteOnly(Set<String> withPath) {
        Set<String> names = new TreeSet<>();
        Pattern key = Pattern.compile("quarkus\\.model-sharing\\.models\\.(?:\"([^\"]+)\"|([^.\"]+))\\.url");
        for (String property : ConfigProvider.getConfig().getPropertyNames()) {
            Matcher matcher = key.matcher(property);
            if (matcher.matches()) {
                String name = matcher.group(1) != null ? matcher.group(1) : matcher.group(2);
                if (!withPath.contains(name)) {
                    names.add(name);
                }
            }
        }
        return names;
    }

    @BuildStep
    @Record(ExecutionTime.RUNTIME_INIT)
    ModelRegistryBuildItem createRegistry(ModelSharingRecorder recorder, ConfiguredModelsBuildItem models,
            LaunchModeBuildItem launchMode, ShutdownContextBuildItem shutdown) {
        boolean watch = launchMode.getLaunchMode() == LaunchMode.DEVELOPMENT;
        return new ModelRegistryBuildItem(recorder.createRegistry(models.paths(), watch,
                launchMode.getLaunchMode() == LaunchMode.NORMAL, shutdown));
    }

    @BuildStep
    @Record(ExecutionTime.RUNTIME_INIT)
    WorkerPoolBuildItem createWorkerPool(ModelSharingRecorder recorder, ConfiguredModelsBuildItem models,
            TensorAllocatorBuildItem allocator, ShutdownContextBuildItem shutdown) {
        return new WorkerPoolBuildItem(recorder.createWorkerPool(models.paths(), models.texts(), allocator.allocator(),
                shutdown));
    }

    @BuildStep
    @Record(ExecutionTime.RUNTIME_INIT)
    RemoteModelsBuildItem createRemoteModels(ModelSharingRecorder recorder, ConfiguredModelsBuildItem models,
            CoreVertxBuildItem vertx, TensorAllocatorBuildItem allocator, ShutdownContextBuildItem shutdown) {
        return new RemoteModelsBuildItem(recorder.createRemoteModels(models.paths(), models.remoteOnly(), vertx.getVertx(),
                allocator.allocator(), shutdown));
    }

    @BuildStep
    void readiness(BuildProducer<AdditionalBeanBuildItem> beans) {
        beans.produce(AdditionalBeanBuildItem.unremovableOf(ModelReadiness.class));
        // what the Open Inference Protocol serves, over REST here and over gRPC with quarkus-model-sharing-grpc
        beans.produce(AdditionalBeanBuildItem.unremovableOf(ServedModels.class));
    }

    /** The Open Inference Protocol's REST endpoints, turned on by configuration, when the application has HTTP. */
    @BuildStep
    void inferenceProtocol(Capabilities capabilities, BuildProducer<AdditionalBeanBuildItem> beans) {
        if (capabilities.isPresent(Capability.VERTX_HTTP)) {
            beans.produce(AdditionalBeanBuildItem.unremovableOf(InferenceProtocolRoutes.class));
        }
    }

    @BuildStep
    @Record(ExecutionTime.RUNTIME_INIT)
    void beans(ModelSharingRecorder recorder, ConfiguredModelsBuildItem models, ModelRegistryBuildItem registry,
            WorkerPoolBuildItem workers, RemoteModelsBuildItem remotes, BuildProducer<SyntheticBeanBuildItem> beans) {
        beans.produce(SyntheticBeanBuildItem.configure(RemoteModels.class)
                .scope(Singleton.class)
                .setRuntimeInit()
                .unremovable()
                .runtimeValue(remotes.models())
                .done());
        beans.produce(SyntheticBeanBuildItem.configure(ModelRegistry.class)
                .scope(Singleton.class)
                .setRuntimeInit()
                .unremovable()
                .runtimeValue(registry.registry())
                .done());
        beans.produce(SyntheticBeanBuildItem.configure(WorkerPool.class)
                .scope(Singleton.class)
                .setRuntimeInit()
                .unremovable()
                .runtimeValue(workers.pool())
                .done());
        Type handleType = ParameterizedType.create(DotName.createSimple(ModelHandle.class),
                new Type[] { ClassType.create(DotName.createSimple(OnnxModel.class)) }, null);
        for (String name : models.names()) {
            AnnotationInstance qualifier = AnnotationInstance.builder(MODEL).value(name).build();
            beans.produce(SyntheticBeanBuildItem.configure(InferenceModel.class)
                    .scope(Singleton.class)
                    .qualifiers(qualifier)
                    .setRuntimeInit()
                    .unremovable()
                    .supplier(recorder.inferenceModel(registry.registry(), workers.pool(), remotes.models(), name,
                            models.texts().get(name)))
                    .done());
            TextModelShape text = models.texts().get(name);
            if (text != null) {
                SyntheticBeanBuildItem.ExtendedBeanConfigurator textBean = SyntheticBeanBuildItem.configure(TextModel.class)
                        .types(TextModel.class, switch (text.getTask()) {
                            case EMBEDDING -> TextEmbedder.class;
                            case SCORING -> TextScorer.class;
                            case CLASSIFICATION -> TextClassifier.class;
                        })
                        .scope(Singleton.class)
                        .qualifiers(qualifier)
                        .setRuntimeInit()
                        .unremovable()
                        .supplier(recorder.textModel(registry.registry(), workers.pool(), remotes.models(), name, text));
                beans.produce(textBean.done());
            }
            if (!models.paths().containsKey(name)) {
                continue; // served remotely only: no raw handle
            }
            beans.produce(SyntheticBeanBuildItem.configure(ModelHandle.class)
                    .types(handleType)
                    .scope(Dependent.class)
                    .qualifiers(qualifier)
                    .setRuntimeInit()
                    .unremovable()
                    .supplier(recorder.handle(registry.registry(), name))
                    .destroyer(ModelHandleDestroyer.class)
                    .done());
        }
    }

    @BuildStep
    HealthBuildItem health(ModelSharingBuildTimeConfig config) {
        return new HealthBuildItem(ModelSharingHealthCheck.class.getName(), config.healthEnabled());
    }

    @BuildStep
    void metrics(ModelSharingBuildTimeConfig config, Optional<MetricsCapabilityBuildItem> metrics,
            BuildProducer<AdditionalBeanBuildItem> beans) {
        if (config.metricsEnabled() && metrics.isPresent() && metrics.get().metricsSupported(MetricsFactory.MICROMETER)) {
            beans.produce(AdditionalBeanBuildItem.unremovableOf(ModelSharingMeterBinder.class));
        }
    }

    private static String describe(AnnotationTarget target) {
        return switch (target.kind()) {
            case FIELD -> target.asField().declaringClass().name() + "#" + target.asField().name();
            case METHOD_PARAMETER -> target.asMethodParameter().method().declaringClass().name() + "#"
                    + target.asMethodParameter().method().name() + "(parameter " + target.asMethodParameter().position() + ")";
            case METHOD -> target.asMethod().declaringClass().name() + "#" + target.asMethod().name() + "()";
            default -> target.toString();
        };
    }
}
