package io.quarkiverse.modelsharing.text;

import java.util.List;

/**
 * Sentence embeddings from a text encoder configured with {@code task=embedding}:
 *
 * <pre>{@code
 * @Inject
 * @Model("minilm")
 * TextEmbedder embedder;
 *
 * float[] vector = embedder.embed("Hello world");
 * }</pre>
 */
public interface TextEmbedder {

    /**
     * The embedding of {@code text}.
     *
     * @throws TextException if the text is empty, or longer than the model reads and truncation is off
     */
    float[] embed(String text);

    /** The embeddings of {@code texts}, in order; run in padded batches of texts of similar length. */
    List<float[]> embedAll(List<String> texts);

    /** The number of dimensions of an embedding. */
    int dimension();

    /** How many tokens the model reads for {@code text}, its special tokens ([CLS], [SEP]) included. */
    int countTokens(String text);
}
