package io.quarkiverse.modelsharing.it;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.text.TextEmbedder;
import io.quarkiverse.modelsharing.text.TextException;

/**
 * Sentence embeddings with all-MiniLM-L6-v2, configured as a text model in {@code application.properties}: the
 * extension tokenizes, runs, mean-pools and normalizes, as sentence-transformers does.
 */
@ApplicationScoped
public class Embedder {

    @Inject
    @Model("minilm")
    TextEmbedder embedder;

    Embedder() {
    }

    /** An embedder outside CDI, e.g. in the benchmarks. */
    public Embedder(TextEmbedder embedder) {
        this.embedder = embedder;
    }

    /** The embedding of {@code text}; rejects empty text and text longer than the model's window. */
    public Embedding embed(String text) {
        try {
            return new Embedding(embedder.embed(text), embedder.countTokens(text));
        } catch (TextException e) {
            throw new InvalidTextException(e.getMessage());
        }
    }

    /** A sentence embedding and how many tokens the model read, [CLS] and [SEP] included. */
    public record Embedding(float[] vector, int tokens) {
    }
}
