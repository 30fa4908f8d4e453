package io.quarkiverse.modelsharing.runtime;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;

import io.quarkiverse.modelsharing.text.TextTask;
import io.quarkus.runtime.annotations.ConfigDocMapKey;
import io.quarkus.runtime.annotations.ConfigDocSection;
import io.quarkus.runtime.annotations.ConfigPhase;
import io.quarkus.runtime.annotations.ConfigRoot;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import io.smallrye.config.WithName;

/**
 * What the build checks and prepares: the models and where they are.
 */
@ConfigMapping(prefix = "quarkus.model-sharing")
@ConfigRoot(phase = ConfigPhase.BUILD_AND_RUN_TIME_FIXED)
public interface ModelSharingBuildTimeConfig {

    /**
     * The models, by name: the name that {@code @Model("name")} selects.
     */
    @ConfigDocSection
    @ConfigDocMapKey("model-name")
    Map<String, ModelBuildTimeConfig> models();

    /**
     * The text embedder (a model with a tokenizer and {@code task=embedding}) that is also the application's default
     * langchain4j {@code EmbeddingModel}, for quarkus-langchain4j's embedding stores and retrievers. Whatever this
     * says, {@code @Inject @Model("name") EmbeddingModel} gives any text embedder as one when langchain4j is present.
     */
    @WithName("langchain4j.embedding-model")
    Optional<String> langchain4jEmbeddingModel();

    /**
     * Whether the readiness health check reports the models, when SmallRye Health is present.
     */
    @WithName("health.enabled")
    @WithDefault("true")
    boolean healthEnabled();

    /**
     * Whether Micrometer meters are published for the models, when Micrometer is present.
     */
    @WithName("metrics.enabled")
    @WithDefault("true")
    boolean metricsEnabled();

    /**
     * Dev Services: in dev and test mode, models placed in workers are served by a local worker daemon shared by the
     * user's applications and tests, unless the application configures its workers ({@code workers.socket} or
     * {@code workers.mode}).
     */
    @ConfigDocSection
    DevServicesConfig devservices();

    interface DevServicesConfig {

        /**
         * Whether to start (or reuse) the shared local worker daemon in dev and test mode.
         */
        @WithDefault("true")
        boolean enabled();

        /**
         * How long the shared daemon stays once it has no connection and no application that connected to it still
         * runs: long enough to survive a live reload. An application that is alive keeps it, however long it waits
         * before its first model call.
         */
        @WithDefault("10s")
        Duration linger();
    }

    interface ModelBuildTimeConfig {

        /**
         * Where the ONNX model is: a file path (absolute, or relative to the working directory), or
         * {@code classpath:} followed by a resource name, e.g. {@code classpath:models/embedder.onnx}. The build fails if
         * the file or resource is missing or is not a valid ONNX model. A model with {@code placement=remote} needs no
         * file; with one, its remote server's metadata is checked against the file's inputs and outputs.
         */
        Optional<String> path();

        /**
         * A Hugging Face {@code tokenizer.json} for a text model, as a file path or {@code classpath:} resource (e.g.
         * the one a langchain4j model artifact ships). With it, {@code @Model("name")} also injects the text API of
         * the model's {@code task}: {@code TextEmbedder}, {@code TextScorer} or {@code TextClassifier}. The build
         * fails if it is missing, or if the model does not read {@code input_ids} and {@code attention_mask}.
         */
        Optional<String> tokenizer();

        /**
         * What a text model (one with a {@code tokenizer}) computes: {@code embedding} (a {@code TextEmbedder}),
         * {@code scoring} with a cross-encoder ({@code TextScorer}) or {@code classification} ({@code TextClassifier}).
         */
        @WithDefault("embedding")
        TextTask task();
    }
}
