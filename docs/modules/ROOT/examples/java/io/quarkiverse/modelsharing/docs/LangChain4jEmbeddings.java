package io.quarkiverse.modelsharing.docs;

// tag::imports[]
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.model.embedding.EmbeddingModel;
// end::imports[]

/** langchain4j's EmbeddingModel, served by a shared text model. */
@ApplicationScoped
public class LangChain4jEmbeddings {

    // tag::bridge[]
    @Inject
    EmbeddingModel embeddingModel; // quarkus.model-sharing.langchain4j.embedding-model=minilm

    public Embedding embed(String text) {
        return embeddingModel.embed(text).content();
    }
    // end::bridge[]
}
