package io.quarkiverse.modelsharing.runtime.langchain4j;

import java.util.List;

import dev.langchain4j.data.embedding.Embedding;
import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.output.Response;
import dev.langchain4j.model.output.TokenUsage;
import io.quarkiverse.modelsharing.text.TextModel;

/**
 * langchain4j's {@link EmbeddingModel} over a text model of the extension: loaded once, evicted by policy, in
 * process or in workers, batched, as configured. {@code @Inject @Model("name") EmbeddingModel} gives it, and with
 * {@code quarkus.model-sharing.langchain4j.embedding-model=name} it is also the application's default
 * {@code EmbeddingModel}, the one quarkus-langchain4j's embedding stores and retrieval augmentors use.
 */
public final class SharedEmbeddingModel implements EmbeddingModel {

    private final String name;
    private final TextModel embedder;

    public SharedEmbeddingModel(String name, TextModel embedder) {
        this.name = name;
        this.embedder = embedder;
    }

    @Override
    public Response<Embedding> embed(String text) {
        TextModel.Counted counted = embedder.embedAllCounted(List.of(text)).get(0);
        return Response.from(Embedding.from(counted.vector()), new TokenUsage(counted.tokens()));
    }

    @Override
    public Response<Embedding> embed(TextSegment segment) {
        return embed(segment.text());
    }

    @Override
    public Response<List<Embedding>> embedAll(List<TextSegment> segments) {
        List<TextModel.Counted> counted = embedder.embedAllCounted(segments.stream().map(TextSegment::text).toList());
        List<Embedding> embeddings = counted.stream().map(each -> Embedding.from(each.vector())).toList();
        return Response.from(embeddings, new TokenUsage(counted.stream().mapToInt(TextModel.Counted::tokens).sum()));
    }

    @Override
    public int dimension() {
        return embedder.dimension();
    }

    @Override
    public String modelName() {
        return name;
    }

    @Override
    public String toString() {
        return "SharedEmbeddingModel[" + name + "]";
    }
}
