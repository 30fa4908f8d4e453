package io.quarkiverse.modelsharing.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import dev.langchain4j.model.embedding.EmbeddingModel;
import dev.langchain4j.model.embedding.onnx.allminilml6v2q.AllMiniLmL6V2QuantizedEmbeddingModel;
import dev.langchain4j.model.embedding.onnx.bgesmallenv15q.BgeSmallEnV15QuantizedEmbeddingModel;
import io.quarkiverse.modelsharing.inference.BatchingInferenceModel;
import io.quarkiverse.modelsharing.inference.Padding;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;

/**
 * Text models on the models langchain4j ships, against langchain4j's own embedders (mean pooling for all-MiniLM, CLS
 * for BGE), and a tiny cross-encoder and classifier against their math in plain Java.
 */
class TextModelTest {

    static final List<String> SENTENCES = List.of("Hello world",
            "The quick brown fox jumps over the lazy dog.",
            "Shared memory lets processes read the same tensors without copying them, which matters for large inputs.",
            "ok",
            "Quarkus extensions are checked at build time, so that a wrong configuration fails before anything runs;"
                    + " the model sharing extension checks its model files, names and tokenizers this way too.");

    private static OnnxModel minilm;
    private static OnnxModel minilm32;
    private static OnnxModel bge;

    @BeforeAll
    static void load() throws Exception {
        ClassLoader loader = TextModelTest.class.getClassLoader();
        minilm = OnnxModelLoader.of("minilm", ModelSource.parse("classpath:all-minilm-l6-v2-q.onnx", loader)).load();
        minilm32 = OnnxModelLoader.of("minilm32", ModelSource.parse("classpath:all-minilm-l6-v2.onnx", loader)).load();
        bge = OnnxModelLoader.of("bge", ModelSource.parse("classpath:bge-small-en-v1.5-q.onnx", loader)).load();
    }

    @AfterAll
    static void close() throws Exception {
        minilm.close();
        minilm32.close();
        bge.close();
    }

    static TextTokenizer tokenizer(String resource) throws Exception {
        try (InputStream json = TextModelTest.class.getClassLoader().getResourceAsStream(resource)) {
            return TextTokenizer.read(json, resource, 512);
        }
    }

    static double cosine(float[] a, float[] b) {
        return Vectors.cosine(a, b);
    }

    private static void assertMatches(TextEmbedder ours, EmbeddingModel reference) {
        for (String sentence : SENTENCES) {
            float[] expected = reference.embed(sentence).content().vector();
            float[] actual = ours.embed(sentence);
            assertEquals(expected.length, actual.length);
            double cosine = cosine(expected, actual);
            assertTrue(cosine >= 0.9999, "cosine " + cosine + " for \"" + sentence + "\"");
        }
    }

    @Test
    void meanPooledMiniLmMatchesLangchain4j() throws Exception {
        try (TextModel model = new TextModel(minilm, tokenizer("all-minilm-l6-v2-q-tokenizer.json"),
                TextSettings.embedding(Pooling.MEAN))) {
            assertEquals(384, model.dimension());
            assertMatches(model, new AllMiniLmL6V2QuantizedEmbeddingModel());
        }
        try (TextModel model = new TextModel(minilm32, tokenizer("all-minilm-l6-v2-tokenizer.json"),
                TextSettings.embedding(Pooling.MEAN))) {
            assertMatches(model, new dev.langchain4j.model.embedding.onnx.allminilml6v2.AllMiniLmL6V2EmbeddingModel());
        }
    }

    @Test
    void aDynamicallyQuantizedModelIsNeverBatched() throws Exception {
        assertTrue(minilm.batchDependent(), "its export quantizes activations with one scale per batch");
        assertTrue(!minilm32.batchDependent());
        TextTokenizer tokenizer = tokenizer("all-minilm-l6-v2-q-tokenizer.json");
        Padding padding = Padding.text(tokenizer.padId(), Set.of("input_ids", "attention_mask", "token_type_ids"),
                Set.of("last_hidden_state"), 0);
        try (TextModel plain = new TextModel(minilm, tokenizer("all-minilm-l6-v2-q-tokenizer.json"),
                TextSettings.embedding(Pooling.MEAN));
                BatchingInferenceModel batching = new BatchingInferenceModel(minilm,
                        new BatchingInferenceModel.Settings(16, 0, 1, padding), TensorAllocator.offHeap());
                TextModel batched = new TextModel(batching, tokenizer, TextSettings.embedding(Pooling.MEAN))) {
            Vectors.concurrently(4, offset -> {
                for (int i = 0; i < 5; i++) {
                    String sentence = SENTENCES.get((offset + i) % SENTENCES.size());
                    assertEquals(1.0, cosine(plain.embed(sentence), batched.embed(sentence)), 1e-6);
                }
            });
            assertEquals(List.of(0L, 0L), java.util.Arrays.stream(batching.runsAndRequests()).boxed().toList(),
                    "each call went straight to the model, not through the batcher");
            List<float[]> all = plain.embedAll(SENTENCES);
            for (int i = 0; i < SENTENCES.size(); i++) {
                assertEquals(1.0, cosine(plain.embed(SENTENCES.get(i)), all.get(i)), 1e-6,
                        "embedAll runs each text alone too: the same vector as embed");
            }
        }
    }

    @Test
    void clsPooledBgeMatchesLangchain4j() throws Exception {
        try (TextModel model = new TextModel(bge, tokenizer("bge-small-en-v1.5-q-tokenizer.json"),
                TextSettings.embedding(Pooling.fromSentenceTransformers(
                        "{\"word_embedding_dimension\": 384, \"pooling_mode_cls_token\": true,"
                                + " \"pooling_mode_mean_tokens\": false}")))) {
            assertMatches(model, new BgeSmallEnV15QuantizedEmbeddingModel());
            TextModel mean = new TextModel(bge, tokenizer("bge-small-en-v1.5-q-tokenizer.json"),
                    TextSettings.embedding(Pooling.MEAN));
            try (mean) {
                double cosine = cosine(model.embed(SENTENCES.get(2)), mean.embed(SENTENCES.get(2)));
                assertTrue(cosine < 0.999, "the wrong pooling gives another vector: cosine " + cosine);
            }
        }
    }

    @Test
    void embedAllOfMixedLengthsMatchesEmbeddingEachAlone() throws Exception {
        try (TextModel model = new TextModel(minilm32, tokenizer("all-minilm-l6-v2-tokenizer.json"),
                new TextSettings(TextTask.EMBEDDING, Pooling.MEAN, true, 512, false, List.of(), 3))) {
            List<String> texts = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                texts.addAll(SENTENCES);
            }
            List<float[]> all = model.embedAll(texts);
            assertEquals(texts.size(), all.size());
            for (int i = 0; i < texts.size(); i++) {
                double cosine = cosine(model.embed(texts.get(i)), all.get(i));
                assertTrue(cosine >= 0.99999, "cosine " + cosine + " for text " + i + " in padded batches of 3");
            }
        }
    }

    @Test
    void concurrentEmbeddingsBatchedInProcessMatchUnbatched() throws Exception {
        TextTokenizer tokenizer = tokenizer("all-minilm-l6-v2-tokenizer.json");
        Padding padding = Padding.text(tokenizer.padId(), Set.of("input_ids", "attention_mask", "token_type_ids"),
                Set.of("last_hidden_state"), 0);
        try (TextModel plain = new TextModel(minilm32, tokenizer("all-minilm-l6-v2-tokenizer.json"),
                TextSettings.embedding(Pooling.MEAN));
                BatchingInferenceModel batching = new BatchingInferenceModel(minilm32,
                        new BatchingInferenceModel.Settings(16, 0, 1, padding), TensorAllocator.offHeap());
                TextModel batched = new TextModel(batching, tokenizer, TextSettings.embedding(Pooling.MEAN))) {
            Map<String, float[]> expected = new java.util.HashMap<>();
            SENTENCES.forEach(sentence -> expected.put(sentence, plain.embed(sentence)));
            Vectors.concurrently(8, offset -> {
                for (int i = 0; i < 15; i++) {
                    String sentence = SENTENCES.get((offset + i) % SENTENCES.size());
                    double cosine = cosine(expected.get(sentence), batched.embed(sentence));
                    assertTrue(cosine >= 0.99999, "cosine " + cosine + " for \"" + sentence + "\"");
                }
            });
            long[] counts = batching.runsAndRequests();
            assertTrue(counts[0] < counts[1], counts[0] + " runs for " + counts[1] + " embeddings: none were batched");
        }
    }

    @Test
    void aCrossEncoderScoresAndAClassifierLabelsAsTheirMathSays() throws Exception {
        TextTokenizer tokenizer = tokenizer("all-minilm-l6-v2-q-tokenizer.json");
        try (OnnxModel scorerModel = OnnxModelLoader.of("scorer", ModelSource.bytes("scorer", TinyModels.textEncoder(1)))
                .load();
                OnnxModel classifierModel = OnnxModelLoader.of("classifier",
                        ModelSource.bytes("classifier", TinyModels.textEncoder(3))).load();
                TextModel scorer = new TextModel(scorerModel, tokenizer,
                        new TextSettings(TextTask.SCORING, Pooling.MEAN, false, 512, false, List.of(), 2));
                TextModel classifier = new TextModel(classifierModel, tokenizer("all-minilm-l6-v2-q-tokenizer.json"),
                        new TextSettings(TextTask.CLASSIFICATION, Pooling.MEAN, false, 512, false,
                                List.of("negative", "neutral", "positive"), 2))) {
            String query = "what is shared memory";
            List<Float> scores = scorer.score(query, SENTENCES);
            for (int i = 0; i < SENTENCES.size(); i++) {
                TextTokenizer.Tokens pair = tokenizer.encode(query, SENTENCES.get(i));
                float expected = TinyModels.expectedLogits(pair.ids(), pair.typeIds(), 1)[0];
                assertEquals(expected, scores.get(i), 1e-5, "passage " + i);
                assertEquals(expected, scorer.score(query, SENTENCES.get(i)), 1e-5);
            }
            assertTrue(java.util.Arrays.stream(tokenizer.encode(query, SENTENCES.get(0)).typeIds()).anyMatch(t -> t == 1),
                    "the passage is read as the second segment");
            List<TextClassifier.Classification> labels = classifier.classifyAll(SENTENCES);
            for (int i = 0; i < SENTENCES.size(); i++) {
                TextTokenizer.Tokens tokens = tokenizer.encode(SENTENCES.get(i));
                float[] logits = TinyModels.expectedLogits(tokens.ids(), tokens.typeIds(), 3);
                double sum = 0;
                for (float logit : logits) {
                    sum += Math.exp(logit);
                }
                int best = 0;
                for (int label = 0; label < 3; label++) {
                    float p = labels.get(i).probabilities().get(List.of("negative", "neutral", "positive").get(label));
                    assertEquals(Math.exp(logits[label]) / sum, p, 1e-5);
                    best = logits[label] > logits[best] ? label : best;
                }
                assertEquals(List.of("negative", "neutral", "positive").get(best), labels.get(i).label());
                TextClassifier.Classification alone = classifier.classify(SENTENCES.get(i));
                assertEquals(labels.get(i).label(), alone.label());
                assertEquals(labels.get(i).probability(), alone.probability(), 1e-6, "alone as in a batch");
            }
            assertEquals("Model 'scorer' is configured for task=scoring; embed() needs task=embedding",
                    assertThrows(UnsupportedOperationException.class, () -> scorer.embed("x")).getMessage());
        }
    }

    @Test
    void emptyAndTooLongTextsAreRefusedOrCut() throws Exception {
        String long600 = "word ".repeat(600);
        try (TextModel strict = new TextModel(minilm, tokenizer("all-minilm-l6-v2-q-tokenizer.json"),
                TextSettings.embedding(Pooling.MEAN));
                TextModel cutting = new TextModel(minilm, tokenizer("all-minilm-l6-v2-q-tokenizer.json"),
                        new TextSettings(TextTask.EMBEDDING, Pooling.MEAN, true, 512, true, List.of(), 32))) {
            assertEquals("text must not be empty", assertThrows(TextException.class, () -> strict.embed(" ")).getMessage());
            assertEquals("The text is longer than the 512 tokens model 'minilm' reads: split it into shorter passages,"
                    + " or set truncate=true to cut it",
                    assertThrows(TextException.class, () -> strict.embed(long600)).getMessage());
            double cosine = cosine(cutting.embed(long600), cutting.embed("word ".repeat(510)));
            assertTrue(cosine >= 0.99999, "a cut text is its first 510 tokens: cosine " + cosine);
        }
    }

    @Test
    void poolingFromSentenceTransformersNamesWhatIsWrong() {
        assertEquals(Pooling.MEAN, Pooling.fromSentenceTransformers("{\"pooling_mode_mean_tokens\": true}"));
        assertEquals("the pooling configuration declares none of pooling_mode_cls_token, pooling_mode_mean_tokens or"
                + " pooling_mode_max_tokens as true",
                assertThrows(IllegalArgumentException.class, () -> Pooling.fromSentenceTransformers("{}")).getMessage());
    }
}
