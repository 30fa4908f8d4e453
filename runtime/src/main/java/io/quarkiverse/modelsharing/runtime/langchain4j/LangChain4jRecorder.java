package io.quarkiverse.modelsharing.runtime.langchain4j;

import java.util.function.Supplier;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.text.TextModel;
import io.quarkus.arc.Arc;
import io.quarkus.runtime.annotations.Recorder;

/** The langchain4j bridge's beans; used only when langchain4j is on the application's class path. */
@Recorder
public class LangChain4jRecorder {

    /** langchain4j's EmbeddingModel over the {@code @Model("name")} text model bean. */
    public Supplier<Object> embeddingModel(String name) {
        return () -> new SharedEmbeddingModel(name, Arc.container().select(TextModel.class, Model.Literal.of(name)).get());
    }
}
