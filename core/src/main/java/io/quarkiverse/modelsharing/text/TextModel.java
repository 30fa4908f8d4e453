package io.quarkiverse.modelsharing.text;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorSpec;

/**
 * A text model: a tokenizer in front of an {@link InferenceModel} (in process or in workers, batched or not), and
 * the task's reading of its outputs: pooled embeddings, cross-encoder scores, or classifier probabilities. Lists of
 * texts run in batches of similar lengths, padded to the longest of each batch with the attention mask off.
 */
public final class TextModel implements TextEmbedder, TextScorer, TextClassifier, AutoCloseable {

    private static final String INPUT_IDS = "input_ids";
    private static final String ATTENTION_MASK = "attention_mask";
    private static final String TOKEN_TYPE_IDS = "token_type_ids";

    private final InferenceModel model;
    private final TextTokenizer tokenizer;
    private final TextSettings settings;
    private final boolean typeIds;
    private final String output;
    private final int dimension;

    /**
     * @throws IllegalArgumentException if the model does not read {@code input_ids} and {@code attention_mask}, or
     *         has no output of a shape the task reads
     */
    public TextModel(InferenceModel model, TextTokenizer tokenizer, TextSettings settings) {
        this.model = model;
        this.tokenizer = tokenizer;
        this.settings = settings;
        Set<String> inputs = model.inputs().stream().map(TensorSpec::name).collect(Collectors.toSet());
        if (!inputs.contains(INPUT_IDS) || !inputs.contains(ATTENTION_MASK)) {
            throw new IllegalArgumentException("Model '" + model.name() + "' reads " + inputs + "; a text model reads "
                    + INPUT_IDS + " and " + ATTENTION_MASK + " (and " + TOKEN_TYPE_IDS + " if it has it)");
        }
        Set<String> unknown = new java.util.TreeSet<>(inputs);
        unknown.removeAll(Set.of(INPUT_IDS, ATTENTION_MASK, TOKEN_TYPE_IDS));
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("Model '" + model.name() + "' also reads " + unknown + ", which a"
                    + " tokenizer does not give; a text model reads " + INPUT_IDS + ", " + ATTENTION_MASK + " and "
                    + TOKEN_TYPE_IDS);
        }
        this.typeIds = inputs.contains(TOKEN_TYPE_IDS);
        TensorSpec chosen = chooseOutput(model, settings.task());
        this.output = chosen.name();
        long[] shape = chosen.shape();
        this.dimension = (int) shape[shape.length - 1];
        long width = shape.length == 1 ? 1 : shape[shape.length - 1];
        if (settings.task() == TextTask.SCORING && width != 1 && width > 0) {
            throw new IllegalArgumentException("Model '" + model.name() + "' outputs " + chosen + ": a cross-encoder"
                    + " for scoring gives one logit per pair, [batch, 1]; a model with " + width + " logits is a"
                    + " classifier (task=classification)");
        }
        if (settings.task() == TextTask.CLASSIFICATION && !settings.labels().isEmpty() && width > 0
                && width != settings.labels().size()) {
            throw new IllegalArgumentException("Model '" + model.name() + "' gives " + width + " logits, but "
                    + settings.labels().size() + " labels are configured: " + settings.labels());
        }
    }

    /** The output the task reads: an embedder's pooled output if it has one, else its token vectors. */
    private static TensorSpec chooseOutput(InferenceModel model, TextTask task) {
        List<TensorSpec> outputs = model.outputs();
        if (task == TextTask.EMBEDDING) {
            for (TensorSpec spec : outputs) {
                if (spec.name().equals("sentence_embedding") && spec.shape().length == 2) {
                    return spec;
                }
            }
            TensorSpec first = outputs.get(0);
            if (first.shape().length != 3 && first.shape().length != 2) {
                throw new IllegalArgumentException("Model '" + model.name() + "' outputs " + first + "; an embedder"
                        + " outputs token vectors [batch, tokens, dimensions] or embeddings [batch, dimensions]");
            }
            return first;
        }
        TensorSpec first = outputs.get(0);
        if (first.shape().length != 2 && first.shape().length != 1) {
            throw new IllegalArgumentException("Model '" + model.name() + "' outputs " + first + "; a "
                    + task.name().toLowerCase(java.util.Locale.ROOT) + " model outputs logits [batch, labels]");
        }
        return first;
    }

    /** The model the texts run on. */
    public InferenceModel model() {
        return model;
    }

    /** The task this model is configured for. */
    public TextTask task() {
        return settings.task();
    }

    @Override
    public float[] embed(String text) {
        require(TextTask.EMBEDDING, "embed");
        return run(List.of(tokens(text))).get(0);
    }

    @Override
    public List<float[]> embedAll(List<String> texts) {
        require(TextTask.EMBEDDING, "embedAll");
        return runAll(texts.stream().map(this::tokens).toList());
    }

    /** An embedding and how many tokens the model read for it, from one tokenization. */
    public record Counted(float[] vector, int tokens) {
    }

    /** {@link #embedAll}, with each text's token count from the same tokenization. */
    public List<Counted> embedAllCounted(List<String> texts) {
        require(TextTask.EMBEDDING, "embedAll");
        List<TextTokenizer.Tokens> tokens = texts.stream().map(this::tokens).toList();
        List<float[]> vectors = runAll(tokens);
        return IntStream.range(0, texts.size()).mapToObj(i -> new Counted(vectors.get(i), tokens.get(i).length())).toList();
    }

    @Override
    public int dimension() {
        return dimension;
    }

    @Override
    public int countTokens(String text) {
        return tokenizer.encode(text).length();
    }

    @Override
    public float score(String query, String passage) {
        require(TextTask.SCORING, "score");
        return run(List.of(tokens(query, passage))).get(0)[0];
    }

    @Override
    public List<Float> score(String query, List<String> passages) {
        require(TextTask.SCORING, "score");
        List<float[]> logits = runAll(passages.stream().map(passage -> tokens(query, passage)).toList());
        return logits.stream().map(values -> values[0]).toList();
    }

    @Override
    public Classification classify(String text) {
        require(TextTask.CLASSIFICATION, "classify");
        return classification(run(List.of(tokens(text))).get(0));
    }

    @Override
    public List<Classification> classifyAll(List<String> texts) {
        require(TextTask.CLASSIFICATION, "classifyAll");
        return runAll(texts.stream().map(this::tokens).toList()).stream().map(this::classification).toList();
    }

    private void require(TextTask task, String method) {
        if (settings.task() != task) {
            throw new UnsupportedOperationException("Model '" + model.name() + "' is configured for task="
                    + settings.task().name().toLowerCase(java.util.Locale.ROOT) + "; " + method + "() needs task="
                    + task.name().toLowerCase(java.util.Locale.ROOT));
        }
    }

    private TextTokenizer.Tokens tokens(String text) {
        if (text == null || text.isBlank()) {
            throw new TextException("text must not be empty");
        }
        return checked(tokenizer.encode(text), "text");
    }

    private TextTokenizer.Tokens tokens(String query, String passage) {
        if (query == null || query.isBlank() || passage == null || passage.isBlank()) {
            throw new TextException("the query and the passage must not be empty");
        }
        return checked(tokenizer.encode(query, passage), "query and passage");
    }

    private TextTokenizer.Tokens checked(TextTokenizer.Tokens tokens, String what) {
        if (tokens.truncated() && !settings.truncate()) {
            throw new TextException("The " + what + " is longer than the " + settings.maxTokens() + " tokens model '"
                    + model.name() + "' reads: split it into shorter passages, or set truncate=true to cut it");
        }
        return tokens;
    }

    /**
     * Runs many encodings, shortest first in batches of at most {@code maxBatch}, and answers in their order. A model
     * whose rows depend on their batch (dynamic quantization) runs each alone, so that a text gets the same answer
     * from {@code embedAll} as from {@code embed}.
     */
    private List<float[]> runAll(List<TextTokenizer.Tokens> all) {
        if (model.batchDependent()) {
            List<float[]> answers = new ArrayList<>(all.size());
            for (TextTokenizer.Tokens tokens : all) {
                answers.add(run(List.of(tokens)).get(0));
            }
            return answers;
        }
        Integer[] order = IntStream.range(0, all.size()).boxed().sorted(Comparator.comparingInt(i -> all.get(i).length()))
                .toArray(Integer[]::new);
        float[][] answers = new float[all.size()][];
        for (int from = 0; from < order.length; from += settings.maxBatch()) {
            int to = Math.min(order.length, from + settings.maxBatch());
            List<TextTokenizer.Tokens> batch = new ArrayList<>();
            for (int i = from; i < to; i++) {
                batch.add(all.get(order[i]));
            }
            List<float[]> values = run(batch);
            for (int i = from; i < to; i++) {
                answers[order[i]] = values.get(i - from);
            }
        }
        return Arrays.asList(answers);
    }

    /** Runs encodings as one batch padded to the longest, and reads each row's answer. */
    private List<float[]> run(List<TextTokenizer.Tokens> batch) {
        int rows = batch.size();
        int longest = batch.stream().mapToInt(TextTokenizer.Tokens::length).max().orElseThrow();
        long[] ids = new long[rows * longest];
        long[] mask = new long[rows * longest];
        long[] types = new long[rows * longest];
        Arrays.fill(ids, tokenizer.padId());
        for (int row = 0; row < rows; row++) {
            TextTokenizer.Tokens tokens = batch.get(row);
            System.arraycopy(tokens.ids(), 0, ids, row * longest, tokens.length());
            System.arraycopy(tokens.attentionMask(), 0, mask, row * longest, tokens.length());
            System.arraycopy(tokens.typeIds(), 0, types, row * longest, tokens.length());
        }
        long[] shape = { rows, longest };
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        try (Tensor inputIds = Tensor.of(ids, shape);
                Tensor attentionMask = Tensor.of(mask, shape);
                Tensor tokenTypeIds = Tensor.of(types, shape)) {
            inputs.put(INPUT_IDS, inputIds);
            inputs.put(ATTENTION_MASK, attentionMask);
            if (typeIds) {
                inputs.put(TOKEN_TYPE_IDS, tokenTypeIds);
            }
            try (InferenceResult result = model.run(inputs)) {
                Tensor values = result.get(output);
                List<float[]> answers = new ArrayList<>(rows);
                for (int row = 0; row < rows; row++) {
                    answers.add(read(values, row, mask, longest));
                }
                return answers;
            }
        }
    }

    private float[] read(Tensor values, int row, long[] mask, int longest) {
        if (values.rank() == 3) {
            return finish(pool(values, row, mask, longest));
        }
        int width = values.rank() == 1 ? 1 : (int) values.dim(1);
        float[] answer = new float[width];
        for (int d = 0; d < width; d++) {
            answer[d] = values.getFloat((long) row * width + d);
        }
        return settings.task() == TextTask.EMBEDDING ? finish(answer) : answer;
    }

    /** Pools row {@code row} of {@code [rows, tokens, dimensions]} over its real tokens. */
    private float[] pool(Tensor hidden, int row, long[] mask, int longest) {
        if (hidden.dim(1) != longest) {
            throw new IllegalStateException("Model '" + model.name() + "' gave " + hidden + " for texts of " + longest
                    + " tokens: its token vectors do not follow the tokens");
        }
        int tokens = (int) hidden.dim(1);
        int dims = (int) hidden.dim(2);
        float[] vectors = new float[dims];
        long base = (long) row * tokens * dims;
        if (settings.pooling() == Pooling.CLS) {
            for (int d = 0; d < dims; d++) {
                vectors[d] = hidden.getFloat(base + d);
            }
            return vectors;
        }
        boolean max = settings.pooling() == Pooling.MAX;
        if (max) {
            Arrays.fill(vectors, Float.NEGATIVE_INFINITY);
        }
        int counted = 0;
        for (int t = 0; t < tokens; t++) {
            if (mask[row * longest + t] == 0) {
                continue;
            }
            counted++;
            long at = base + (long) t * dims;
            for (int d = 0; d < dims; d++) {
                float value = hidden.getFloat(at + d);
                vectors[d] = max ? Math.max(vectors[d], value) : vectors[d] + value;
            }
        }
        if (!max) {
            for (int d = 0; d < dims; d++) {
                vectors[d] /= Math.max(counted, 1);
            }
        }
        return vectors;
    }

    private float[] finish(float[] vector) {
        if (!settings.normalize()) {
            return vector;
        }
        double norm = 0;
        for (float value : vector) {
            norm += value * value;
        }
        float scale = norm == 0 ? 1 : (float) (1 / Math.sqrt(norm));
        for (int d = 0; d < vector.length; d++) {
            vector[d] *= scale;
        }
        return vector;
    }

    private Classification classification(float[] logits) {
        List<String> labels = settings.labels();
        if (!labels.isEmpty() && labels.size() != logits.length) {
            throw new IllegalStateException("Model '" + model.name() + "' gives " + logits.length + " logits, but "
                    + labels.size() + " labels are configured: " + labels);
        }
        double top = Double.NEGATIVE_INFINITY;
        for (float logit : logits) {
            top = Math.max(top, logit);
        }
        double sum = 0;
        double[] exp = new double[logits.length];
        for (int i = 0; i < logits.length; i++) {
            exp[i] = Math.exp(logits[i] - top);
            sum += exp[i];
        }
        Map<String, Float> probabilities = new LinkedHashMap<>();
        int best = 0;
        for (int i = 0; i < logits.length; i++) {
            probabilities.put(labels.isEmpty() ? "LABEL_" + i : labels.get(i), (float) (exp[i] / sum));
            if (exp[i] > exp[best]) {
                best = i;
            }
        }
        String label = labels.isEmpty() ? "LABEL_" + best : labels.get(best);
        return new Classification(label, probabilities.get(label), probabilities);
    }

    /** Closes the tokenizer; the model belongs to whoever gave it. */
    @Override
    public void close() {
        tokenizer.close();
    }
}
