package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import dev.langchain4j.data.segment.TextSegment;
import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel;
import dev.langchain4j.model.embedding.onnx.bgesmallenv15q.BgeSmallEnV15QuantizedEmbeddingModel;
import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.runtime.worker.WorkerPool;
import io.quarkiverse.modelsharing.text.TextClassifier;
import io.quarkiverse.modelsharing.text.TextEmbedder;
import io.quarkiverse.modelsharing.text.TextScorer;
import io.quarkiverse.modelsharing.text.TextTokenizer;
import io.quarkiverse.modelsharing.text.Vectors;
import io.quarkus.test.QuarkusUnitTest;

/**
 * Text models by configuration only: a mean-pooled embedder in process and in a worker, a CLS-pooled one, a
 * cross-encoder and a classifier, each against a reference; the langchain4j bridge as the default EmbeddingModel.
 */
class TextModelsTest {

    static final Path SCORER = TestModelFiles.write("text-scorer.onnx", TinyModels.textEncoder(1));
    static final Path CLASSIFIER = TestModelFiles.write("text-classifier.onnx", TinyModels.textEncoder(3));
    static final String MINILM = "classpath:all-minilm-l6-v2.onnx";
    static final String MINILM_TOKENIZER = "classpath:all-minilm-l6-v2-tokenizer.json";
    static final List<String> SENTENCES = List.of("Hello world", "The quick brown fox jumps over the lazy dog.",
            "Shared memory lets processes read the same tensors without copying them, which matters for large inputs.",
            "ok", "Quarkus extensions are checked at build time, so that a wrong configuration fails before anything"
                    + " runs; the model sharing extension checks its model files, names and tokenizers this way too.");

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(TestModelFiles.class))
            .overrideConfigKey("quarkus.model-sharing.workers.mode", "managed")
            .overrideConfigKey("quarkus.model-sharing.workers.max-batch", "16")
            .overrideConfigKey("quarkus.model-sharing.models.minilm.path", MINILM)
            .overrideConfigKey("quarkus.model-sharing.models.minilm.tokenizer", MINILM_TOKENIZER)
            .overrideConfigKey("quarkus.model-sharing.models.shared.path", MINILM)
            .overrideConfigKey("quarkus.model-sharing.models.shared.tokenizer", MINILM_TOKENIZER)
            .overrideConfigKey("quarkus.model-sharing.models.shared.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.models.bge.path", "classpath:bge-small-en-v1.5-q.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.bge.tokenizer", "classpath:bge-small-en-v1.5-q-tokenizer.json")
            .overrideConfigKey("quarkus.model-sharing.models.bge.pooling", "cls")
            .overrideConfigKey("quarkus.model-sharing.models.scorer.path", SCORER.toString())
            .overrideConfigKey("quarkus.model-sharing.models.scorer.tokenizer", MINILM_TOKENIZER)
            .overrideConfigKey("quarkus.model-sharing.models.scorer.task", "scoring")
            .overrideConfigKey("quarkus.model-sharing.models.classifier.path", CLASSIFIER.toString())
            .overrideConfigKey("quarkus.model-sharing.models.classifier.tokenizer", MINILM_TOKENIZER)
            .overrideConfigKey("quarkus.model-sharing.models.classifier.task", "classification")
            .overrideConfigKey("quarkus.model-sharing.models.classifier.labels", "negative,neutral,positive")
            .overrideConfigKey("quarkus.model-sharing.langchain4j.embedding-model", "minilm")
            .setAfterAllCustomizer(() -> {
                SCORER.toFile().delete();
                CLASSIFIER.toFile().delete();
            });

    @Inject
    @Model("minilm")
    TextEmbedder minilm;

    @Inject
    @Model("shared")
    TextEmbedder shared;

    @Inject
    @Model("bge")
    TextEmbedder bge;

    @Inject
    @Model("scorer")
    TextScorer scorer;

    @Inject
    @Model("classifier")
    TextClassifier classifier;

    @Inject
    EmbeddingModel defaultEmbeddingModel;

    @Inject
    @Model("bge")
    EmbeddingModel bgeForLangchain4j;

    @Inject
    WorkerPool workers;

    static double cosine(float[] a, float[] b) {
        return Vectors.cosine(a, b);
    }

    @Test
    void embeddersOfTwoPoolingsMatchLangchain4jsOwn() {
        EmbeddingModel minilmReference = new AllMiniLmL6V2EmbeddingModel();
        EmbeddingModel bgeReference = new BgeSmallEnV15QuantizedEmbeddingModel();
        for (String sentence : SENTENCES) {
            double mean = cosine(minilmReference.embed(sentence).content().vector(), minilm.embed(sentence));
            assertTrue(mean >= 0.9999, "all-MiniLM, mean pooling: cosine " + mean + " for \"" + sentence + "\"");
            double cls = cosine(bgeReference.embed(sentence).content().vector(), bge.embed(sentence));
            assertTrue(cls >= 0.9999, "BGE, CLS pooling: cosine " + cls + " for \"" + sentence + "\"");
        }
        assertEquals(384, minilm.dimension());
    }

    @Test
    void concurrentCallersOfAWorkerPlacedEmbedderAreBatchedAndEachGetsItsOwnEmbedding() throws Exception {
        Map<String, float[]> expected = new java.util.HashMap<>();
        SENTENCES.forEach(sentence -> expected.put(sentence, minilm.embed(sentence)));
        Map<String, String> before = workers.connection().client().status(Duration.ofSeconds(10));
        Vectors.concurrently(8, offset -> {
            for (int i = 0; i < 10; i++) {
                String sentence = SENTENCES.get((offset + i) % SENTENCES.size());
                double cosine = cosine(expected.get(sentence), shared.embed(sentence));
                assertTrue(cosine >= 0.99999, "cosine " + cosine + " for \"" + sentence + "\" through the worker");
            }
        });
        Map<String, String> after = workers.connection().client().status(Duration.ofSeconds(10));
        long runs = Long.parseLong(after.get("runs")) - Long.parseLong(before.get("runs"));
        long requests = Long.parseLong(after.get("requests")) - Long.parseLong(before.get("requests"));
        assertEquals(80, requests);
        assertTrue(runs < requests, "the worker batched texts of different lengths: " + runs + " runs for 80 requests");
        assertTrue(after.keySet().stream().anyMatch(key -> key.startsWith("padding-waste:shared")), after.toString());
        List<float[]> all = shared.embedAll(SENTENCES);
        for (int i = 0; i < SENTENCES.size(); i++) {
            assertTrue(cosine(expected.get(SENTENCES.get(i)), all.get(i)) >= 0.99999, "embedAll through the worker");
        }
    }

    @Test
    void aCrossEncoderAndAClassifierByConfiguration() throws Exception {
        TextTokenizer tokenizer;
        try (InputStream json = getClass().getClassLoader().getResourceAsStream("all-minilm-l6-v2-tokenizer.json")) {
            tokenizer = TextTokenizer.read(json, "tokenizer", 512);
        }
        try (tokenizer) {
            List<Float> scores = scorer.score("what is shared memory", SENTENCES);
            for (int i = 0; i < SENTENCES.size(); i++) {
                TextTokenizer.Tokens pair = tokenizer.encode("what is shared memory", SENTENCES.get(i));
                assertEquals(TinyModels.expectedLogits(pair.ids(), pair.typeIds(), 1)[0], scores.get(i), 1e-5);
            }
            TextClassifier.Classification label = classifier.classify(SENTENCES.get(1));
            TextTokenizer.Tokens tokens = tokenizer.encode(SENTENCES.get(1));
            float[] logits = TinyModels.expectedLogits(tokens.ids(), tokens.typeIds(), 3);
            double sum = Math.exp(logits[0]) + Math.exp(logits[1]) + Math.exp(logits[2]);
            assertEquals(List.of("negative", "neutral", "positive"), List.copyOf(label.probabilities().keySet()));
            assertEquals(Math.exp(logits[2]) / sum, label.probabilities().get("positive"), 1e-5);
        }
    }

    @Test
    void langchain4jSeesTheSharedModels() {
        assertEquals(1.0, cosine(minilm.embed("Hello world"), defaultEmbeddingModel.embed("Hello world").content().vector()),
                1e-6, "the configured default EmbeddingModel is the minilm text model");
        assertEquals(384, defaultEmbeddingModel.dimension());
        assertEquals("bge", bgeForLangchain4j.modelName());
        var all = defaultEmbeddingModel.embedAll(SENTENCES.stream().map(TextSegment::from).toList());
        assertEquals(SENTENCES.size(), all.content().size());
        assertEquals(1.0, cosine(minilm.embed(SENTENCES.get(2)), all.content().get(2).vector()), 1e-5);
        assertEquals(SENTENCES.stream().mapToInt(minilm::countTokens).sum(), all.tokenUsage().inputTokenCount());
    }
}
