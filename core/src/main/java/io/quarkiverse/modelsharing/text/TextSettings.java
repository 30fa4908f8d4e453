package io.quarkiverse.modelsharing.text;

import java.util.List;

/**
 * How a text model is used.
 *
 * @param task what it computes
 * @param pooling how token vectors become an embedding (embeddings only)
 * @param normalize whether embeddings are scaled to unit length
 * @param maxTokens the most tokens, special ones included, the model reads (512 for BERT)
 * @param truncate whether a longer text is cut to {@code maxTokens}; otherwise it is refused
 * @param labels the classifier's labels, in the order of its outputs; empty for {@code LABEL_0}, {@code LABEL_1}, ...
 * @param maxBatch the most texts of one {@code embedAll}, {@code score} or {@code classifyAll} run together
 */
public record TextSettings(TextTask task, Pooling pooling, boolean normalize, int maxTokens, boolean truncate,
        List<String> labels, int maxBatch) {

    public TextSettings {
        if (maxTokens < 2) {
            throw new IllegalArgumentException("max-tokens is " + maxTokens + "; a text needs at least 2 tokens");
        }
        if (maxBatch < 1) {
            throw new IllegalArgumentException("the batch of texts is " + maxBatch + "; it must be at least 1");
        }
        labels = List.copyOf(labels);
    }

    /** An embedder's settings: the pooling given, unit length, BERT's 512 tokens, refusing longer texts. */
    public static TextSettings embedding(Pooling pooling) {
        return new TextSettings(TextTask.EMBEDDING, pooling, true, 512, false, List.of(), 32);
    }
}
