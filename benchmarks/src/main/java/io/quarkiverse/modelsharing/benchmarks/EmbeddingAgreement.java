package io.quarkiverse.modelsharing.benchmarks;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;

import io.quarkiverse.modelsharing.inference.BatchingInferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.text.TextModel;
import io.quarkiverse.modelsharing.text.TextSettings;
import io.quarkiverse.modelsharing.text.TextTokenizer;
import io.quarkiverse.modelsharing.text.Vectors;

/**
 * Whether the text suite's configurations give the same embeddings, as cosine similarities to ours alone, checked
 * before any of their figures is taken: a throughput is worth nothing if the answers differ.
 */
final class EmbeddingAgreement {

    /** Batched answers must match unbatched ones this closely (issue 12's bar), or the run stops. */
    static final double LOWEST_AGREEMENT = 0.99999;

    private EmbeddingAgreement() {
    }

    /**
     * How far the answers agree, as cosine similarities over the sample: ours alone against langchain4j's (the same
     * computation); and against ours alone, ours through our batching from 32 threads at once, and {@code embedAll}
     * (which pads its own batches). A figure of throughput is worth nothing if the answers differ: below
     * {@link #LOWEST_AGREEMENT} the run stops.
     */
    static String agreement(List<String> sample, TextModel ours, Function<String, float[]> theirs,
            InferenceModel onnx, TextTokenizer tokenizer, TextSettings settings)
            throws Exception {
        List<float[]> alone = new ArrayList<>();
        List<float[]> langchain4j = new ArrayList<>();
        for (String sentence : sample) {
            alone.add(ours.embed(sentence));
            langchain4j.add(theirs.apply(sentence));
        }
        double[] withLangchain4j = cosines(alone, langchain4j);
        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "   answers, cosine to ours alone over %d"
                + " sentences (lowest / mean): langchain4j %.6f / %.6f", sample.size(), withLangchain4j[0],
                withLangchain4j[1]));
        boolean agree = withLangchain4j[0] >= 0.9999;
        for (int bucket : new int[] { TextHarness.BUCKET, 0 }) {
            try (BatchingInferenceModel batching = TextHarness.batching(onnx, tokenizer, bucket)) {
                double[] cosines = cosines(concurrently(sample, new TextModel(batching, tokenizer, settings)::embed),
                        alone);
                long[] runsAndRequests = batching.runsAndRequests();
                line.append(String.format(Locale.ROOT, "; %s (%d requests in %d runs) %.4f / %.4f",
                        bucket == 0 ? "ours batched, no buckets" : "ours batched", runsAndRequests[1],
                        runsAndRequests[0], cosines[0], cosines[1]));
                agree &= cosines[0] >= LOWEST_AGREEMENT && runsAndRequests[0] < runsAndRequests[1];
            }
        }
        double[] embedAll = cosines(ours.embedAll(sample), alone);
        line.append(String.format(Locale.ROOT, "; embedAll %.4f / %.4f%n", embedAll[0], embedAll[1]));
        if (!agree || embedAll[0] < LOWEST_AGREEMENT) {
            throw new IllegalStateException("The embeddings disagree (or nothing batched), so the figures would compare"
                    + " different work:\n"
                    + line);
        }
        return line.toString();
    }

    /** The same for the worker: its answers, from 32 threads at once, against ours alone in process. */
    static String workerAgreement(List<String> sample, TextModel ours, TextModel throughWorker)
            throws Exception {
        double[] cosines = cosines(concurrently(sample, throughWorker::embed), concurrently(sample, ours::embed));
        String line = String.format(Locale.ROOT, "   answers through the worker, cosine to ours alone (lowest / mean):"
                + " %.4f / %.4f%n", cosines[0], cosines[1]);
        if (cosines[0] < LOWEST_AGREEMENT) {
            throw new IllegalStateException("The worker's embeddings disagree with ours in process:\n" + line);
        }
        return line;
    }

    /** {@code embed} of each text, from 32 threads at once, in the texts' order. */
    private static List<float[]> concurrently(List<String> texts, Function<String, float[]> embed) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(32);
        try {
            List<Future<float[]>> answers = new ArrayList<>();
            for (String text : texts) {
                answers.add(pool.submit(() -> embed.apply(text)));
            }
            List<float[]> vectors = new ArrayList<>();
            for (Future<float[]> answer : answers) {
                vectors.add(answer.get());
            }
            return vectors;
        } finally {
            pool.shutdown();
        }
    }

    /** The lowest and the mean cosine similarity of {@code a}'s vectors with {@code b}'s, pair by pair. */
    static double[] cosines(List<float[]> a, List<float[]> b) {
        double lowest = 1;
        double sum = 0;
        for (int i = 0; i < a.size(); i++) {
            double cosine = Vectors.cosine(a.get(i), b.get(i));
            lowest = Math.min(lowest, cosine);
            sum += cosine;
        }
        return new double[] { lowest, sum / a.size() };
    }
}
