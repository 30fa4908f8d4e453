package io.quarkiverse.modelsharing.deployment;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import jakarta.enterprise.context.Dependent;
import jakarta.inject.Singleton;

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
import io.quarkiverse.modelsharing.runtime.ModelSharingBuildTimeConfig;
import io.quarkiverse.modelsharing.runtime.ModelSharingRecorder;
import io.quarkiverse.modelsharing.runtime.TextModelShape;
import io.quarkiverse.modelsharing.runtime.health.ModelSharingHealthCheck;
import io.quarkiverse.modelsharing.runtime.metrics.ModelSharingMeterBinder;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;
import io.quarkiverse.modelsharing.text.TextClassifier;
import io.quarkiverse.modelsharing.text.TextEmbedder;
import io.quarkiverse.modelsharing.text.TextModel;
import io.quarkiverse.modelsharing.text.TextScorer;
import io.quarkus.arc.deployment.AdditionalBeanBuildItem;
import io.quarkus.arc.deployment.SyntheticBeanBuildItem;
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
        config.models().forEach((name, model) -> paths.put(name, model.path()));
        ClassLoader classLoader = Thread.currentThread().getContextClassLoader();
        List<String> problems = new ArrayList<>(ModelValidator.checkFiles(paths, classLoader));
        Map<String, TextModelShape> texts = new TreeMap<>();
        config.models().forEach((name, model) -> {
            if (model.tokenizer().isPresent()) {
                TextModelShape text = TextModelValidator.check(name, model, classLoader, problems);
                if (text != null) {
                    texts.put(name, text);
                }
            }
        });
        for (AnnotationInstance usage : index.getIndex().getAnnotations(MODEL)) {
            AnnotationValue value = usage.value();
            String name = value == null ? "" : value.asString();
            if (!paths.containsKey(name)) {
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
        return new ConfiguredModelsBuildItem(paths, texts);
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
    void beans(ModelSharingRecorder recorder, ConfiguredModelsBuildItem models, ModelRegistryBuildItem registry,
            WorkerPoolBuildItem workers, BuildProducer<SyntheticBeanBuildItem> beans) {
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
        for (String name : models.paths().keySet()) {
            AnnotationInstance qualifier = AnnotationInstance.builder(MODEL).value(name).build();
            beans.produce(SyntheticBeanBuildItem.configure(InferenceModel.class)
                    .scope(Singleton.class)
                    .qualifiers(qualifier)
                    .setRuntimeInit()
                    .unremovable()
                    .supplier(recorder.inferenceModel(registry.registry(), workers.pool(), name, models.texts().get(name)))
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
                        .supplier(recorder.textModel(registry.registry(), workers.pool(), name, text));
                beans.produce(textBean.done());
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
