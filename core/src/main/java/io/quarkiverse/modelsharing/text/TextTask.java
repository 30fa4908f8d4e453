package io.quarkiverse.modelsharing.text;

/** What a text model computes from its tokens. */
public enum TextTask {
    /** One vector per text, pooled from the token vectors: {@link TextEmbedder}. */
    EMBEDDING,
    /** One relevance score per (query, passage) pair, from a cross-encoder: {@link TextScorer}. */
    SCORING,
    /** Labels and their probabilities per text, from a sequence classifier: {@link TextClassifier}. */
    CLASSIFICATION
}
