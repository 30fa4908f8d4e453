package io.quarkiverse.modelsharing.benchmarks;

import java.io.UncheckedIOException;

import java.io.IOException;

import java.io.InputStream;

import io.quarkiverse.modelsharing.text.Pooling;

import io.quarkiverse.modelsharing.text.TextSettings;

import io.quarkiverse.modelsharing.text.TextTokenizer;

import io.quarkiverse.modelsharing.text.TextModel;

import io.quarkiverse.modelsharing.inference.InferenceModel;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import dev.langchain4j.model.embedding.onnx.allminilml6v2q.AllMiniLmL6V2QuantizedEmbeddingModel;
import io.quarkiverse.modelsharing.inference.RegistryInferenceModel;
import io.quarkiverse.modelsharing.it.Embedder;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.registry.ModelRegistry;

/**
 * Sentence embeddings with all-MiniLM-L6-v2: the demo's embedder through a registry handle (as
 * {@code @Model InferenceModel} runs it) against langchain4j's own in-process model, same sentence, same run.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
public class EmbeddingThroughputBenchmark {

    static final String SENTENCE = "Quarkus shares one loaded model between every caller in the process, "
            + "and moves tensors between threads and processes as references.";

    private ModelRegistry registry;
    private Embedder ours;
    private AllMiniLmL6V2QuantizedEmbeddingModel theirs;

    @Setup(Level.Trial)
    public void setUp() {
        registry = ModelRegistry.builder().build();
        registry.register("minilm", OnnxModelLoader.of("minilm",
                ModelSource.classpath("all-minilm-l6-v2-q.onnx", EmbeddingThroughputBenchmark.class.getClassLoader())));
        ours = embedder(new RegistryInferenceModel(registry, "minilm"));
        theirs = new AllMiniLmL6V2QuantizedEmbeddingModel();
    }

    /** The demo's embedder over {@code model}, with the tokenizer all-MiniLM-L6-v2-q ships. */
    static Embedder embedder(InferenceModel model) {
        try (InputStream json = EmbeddingThroughputBenchmark.class.getClassLoader()
                .getResourceAsStream("all-minilm-l6-v2-q-tokenizer.json")) {
            return new Embedder(new TextModel(model,
                    TextTokenizer.read(json, "all-minilm-l6-v2-q-tokenizer.json", 512),
                    TextSettings.embedding(Pooling.MEAN)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        registry.close();
    }

    @Benchmark
    public float[] oursThroughModelHandle() {
        return ours.embed(SENTENCE).vector();
    }

    @Benchmark
    public float[] baselineLangChain4jInProcess() {
        return theirs.embed(SENTENCE).content().vector();
    }
}
