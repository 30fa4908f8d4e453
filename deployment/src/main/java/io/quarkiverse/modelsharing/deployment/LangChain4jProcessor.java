package io.quarkiverse.modelsharing.deployment;

import java.util.Map;
import java.util.Optional;

import jakarta.enterprise.inject.Default;
import jakarta.inject.Singleton;

import org.jboss.jandex.AnnotationInstance;
import org.jboss.jandex.ClassType;
import org.jboss.jandex.DotName;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkiverse.modelsharing.runtime.ModelSharingBuildTimeConfig;
import io.quarkiverse.modelsharing.runtime.TextModelShape;
import io.quarkiverse.modelsharing.runtime.langchain4j.LangChain4jRecorder;
import io.quarkiverse.modelsharing.text.TextTask;
import io.quarkus.arc.deployment.SyntheticBeanBuildItem;
import io.quarkus.bootstrap.classloading.QuarkusClassLoader;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.annotations.ExecutionTime;
import io.quarkus.deployment.annotations.Record;

/**
 * The langchain4j bridge: when langchain4j is on the application's class path, every text embedder is also a
 * langchain4j {@code EmbeddingModel} bean, {@code @Model("name")}, and the one that
 * {@code quarkus.model-sharing.langchain4j.embedding-model} names is also the default one.
 */
public class LangChain4jProcessor {

    static final String EMBEDDING_MODEL = TextModelValidator.LANGCHAIN4J_EMBEDDING_MODEL.toString();

    @BuildStep
    @Record(ExecutionTime.RUNTIME_INIT)
    void embeddingModels(LangChain4jRecorder recorder, ModelSharingBuildTimeConfig config, ConfiguredModelsBuildItem models,
            BuildProducer<SyntheticBeanBuildItem> beans) {
        Optional<String> defaultModel = config.langchain4jEmbeddingModel();
        if (!QuarkusClassLoader.isClassPresentAtRuntime(EMBEDDING_MODEL)) {
            if (defaultModel.isPresent()) {
                throw new ModelSharingException("quarkus.model-sharing.langchain4j.embedding-model=" + defaultModel.get()
                        + " is set, but langchain4j is not on the application's class path: add dev.langchain4j:"
                        + "langchain4j-core (quarkus-langchain4j brings it), or remove the key");
            }
            return;
        }
        defaultModel.ifPresent(name -> {
            TextModelShape text = models.texts().get(name);
            if (text == null || text.getTask() != TextTask.EMBEDDING) {
                throw new ModelSharingException("quarkus.model-sharing.langchain4j.embedding-model=" + name + " names "
                        + (text == null ? "no text model"
                                : "a text model with task=" + TextModelValidator.value(text.getTask()))
                        + "; it must name a model with a tokenizer and task=embedding, one of " + embedders(models.texts()));
            }
        });
        models.texts().forEach((name, text) -> {
            if (text.getTask() != TextTask.EMBEDDING) {
                return;
            }
            SyntheticBeanBuildItem.ExtendedBeanConfigurator bean = SyntheticBeanBuildItem
                    .configure(DotName.createSimple(EMBEDDING_MODEL))
                    .types(ClassType.create(DotName.createSimple(EMBEDDING_MODEL)))
                    .scope(Singleton.class)
                    .qualifiers(AnnotationInstance.builder(ModelSharingProcessor.MODEL).value(name).build())
                    .setRuntimeInit()
                    .unremovable()
                    .supplier(recorder.embeddingModel(name));
            if (defaultModel.filter(name::equals).isPresent()) {
                bean.addQualifier(Default.class);
            }
            beans.produce(bean.done());
        });
    }

    private static java.util.List<String> embedders(Map<String, TextModelShape> texts) {
        return texts.entrySet().stream().filter(entry -> entry.getValue().getTask() == TextTask.EMBEDDING)
                .map(Map.Entry::getKey).sorted().toList();
    }
}
