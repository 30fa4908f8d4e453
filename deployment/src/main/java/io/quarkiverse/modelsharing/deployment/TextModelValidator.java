package io.quarkiverse.modelsharing.deployment;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.jboss.jandex.AnnotationInstance;
import org.jboss.jandex.DotName;
import org.jboss.jandex.Type;

import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelInfo;
import io.quarkiverse.modelsharing.runtime.ModelSharingBuildTimeConfig.ModelBuildTimeConfig;
import io.quarkiverse.modelsharing.runtime.TextModelShape;
import io.quarkiverse.modelsharing.tensor.TensorSpec;
import io.quarkiverse.modelsharing.text.TextClassifier;
import io.quarkiverse.modelsharing.text.TextEmbedder;
import io.quarkiverse.modelsharing.text.TextModel;
import io.quarkiverse.modelsharing.text.TextScorer;
import io.quarkiverse.modelsharing.text.TextTask;

/**
 * Checks text models at build time: the tokenizer is there, the model reads what a tokenizer gives and outputs what
 * its task reads, and every {@code @Model} text injection point names a text model of the right task.
 */
final class TextModelValidator {

    static final DotName TEXT_MODEL = DotName.createSimple(TextModel.class);
    static final DotName LANGCHAIN4J_EMBEDDING_MODEL = DotName.createSimple("dev.langchain4j.model.embedding.EmbeddingModel");
    /** The text types a {@code @Model} injection point may have, and the task each needs ({@link TextModel}: any). */
    static final Map<DotName, TextTask> TEXT_TYPES = Map.of(
            DotName.createSimple(TextEmbedder.class), TextTask.EMBEDDING,
            DotName.createSimple(TextScorer.class), TextTask.SCORING,
            DotName.createSimple(TextClassifier.class), TextTask.CLASSIFICATION,
            LANGCHAIN4J_EMBEDDING_MODEL, TextTask.EMBEDDING);
    static final Set<String> TOKEN_INPUTS = Set.of("input_ids", "attention_mask", "token_type_ids");

    private TextModelValidator() {
    }

    /** The shape of model {@code name}, a text model, adding what is wrong with it to {@code problems}. */
    static TextModelShape check(String name, ModelBuildTimeConfig model, ClassLoader classLoader, List<String> problems) {
        String tokenizer = model.tokenizer().orElseThrow();
        String key = "quarkus.model-sharing.models.\"" + name + "\".tokenizer=" + tokenizer;
        try {
            ModelSource source = ModelSource.parse(tokenizer, classLoader);
            if (!source.exists()) {
                problems.add("model '" + name + "': " + key + ": " + source.describe() + " does not exist");
            }
        } catch (IllegalArgumentException e) {
            problems.add("model '" + name + "': " + key + ": " + e.getMessage());
        }
        OnnxModelInfo info;
        try {
            info = ModelValidator.inspect(ModelSource.parse(model.path().orElseThrow(), classLoader));
        } catch (IOException | RuntimeException e) {
            return null; // the model's own check says why
        }
        List<String> inputs = info.inputs().stream().map(TensorSpec::name).toList();
        Set<String> unknown = new TreeSet<>(inputs);
        unknown.removeAll(TOKEN_INPUTS);
        if (!inputs.contains("input_ids") || !inputs.contains("attention_mask") || !unknown.isEmpty()) {
            problems.add("model '" + name + "' has a tokenizer, so it is a text model, but it reads " + inputs
                    + "; a text model reads input_ids and attention_mask, and token_type_ids if it has it");
        }
        TensorSpec first = info.outputs().get(0);
        int rank = first.shape().length;
        boolean fits = model.task() == TextTask.EMBEDDING ? rank == 2 || rank == 3 : rank == 1 || rank == 2;
        if (!fits) {
            problems.add("model '" + name + "' is a text model with task=" + value(model.task()) + ", but its first output"
                    + " is " + first + (model.task() == TextTask.EMBEDDING
                            ? "; an embedder outputs token vectors [batch, tokens, dimensions] or embeddings [batch,"
                                    + " dimensions]"
                            : "; a " + value(model.task()) + " model outputs logits [batch, labels]"));
        }
        List<String> sequence = info.outputs().stream()
                .filter(spec -> spec.shape().length >= 3 && spec.shape()[0] < 0 && spec.shape()[1] < 0)
                .map(TensorSpec::name).toList();
        return new TextModelShape(tokenizer, model.task(), inputs.stream().filter(TOKEN_INPUTS::contains).toList(),
                sequence);
    }

    /** What is wrong with a {@code @Model} injection point of a text type, or null. */
    static String checkInjection(AnnotationInstance usage, String name, Map<String, TextModelShape> texts,
            String where) {
        Type type = switch (usage.target().kind()) {
            case FIELD -> usage.target().asField().type();
            case METHOD_PARAMETER -> usage.target().asMethodParameter().type();
            default -> null;
        };
        if (type == null || !(TEXT_TYPES.containsKey(type.name()) || type.name().equals(TEXT_MODEL))) {
            return null;
        }
        TextModelShape text = texts.get(name);
        if (text == null) {
            return "@Model(\"" + name + "\") " + type.name().local() + " on " + where + ": model '" + name + "' is not a"
                    + " text model; configure its tokenizer with quarkus.model-sharing.models.\"" + name
                    + "\".tokenizer=<tokenizer.json>, or inject InferenceModel";
        }
        TextTask needed = TEXT_TYPES.get(type.name());
        if (needed != null && needed != text.getTask()) {
            return "@Model(\"" + name + "\") " + type.name().local() + " on " + where + ": model '" + name
                    + "' is configured with task=" + value(text.getTask()) + "; a " + type.name().local() + " needs task="
                    + value(needed) + " (quarkus.model-sharing.models.\"" + name + "\".task)";
        }
        return null;
    }

    static String value(TextTask task) {
        return task.name().toLowerCase(java.util.Locale.ROOT);
    }
}
