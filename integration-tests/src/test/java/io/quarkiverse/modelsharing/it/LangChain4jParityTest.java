package io.quarkiverse.modelsharing.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;

import dev.langchain4j.model.embedding.onnx.allminilml6v2q.AllMiniLmL6V2QuantizedEmbeddingModel;
import io.quarkus.test.junit.QuarkusTest;

/** Our embeddings, through @Model, equal those of langchain4j's own in-process model for the same sentences. */
@QuarkusTest
class LangChain4jParityTest {

    static final List<String> SENTENCES = List.of(
            "The quick brown fox jumps over the lazy dog",
            "Quarkus shares one loaded model between every caller in the process.",
            "Shared memory lets tensors move between processes without copying their bytes!",
            "a",
            "Ünïcödé, emoji 🚀 and numbers 3.14159 go through the same tokenizer.");

    @Inject
    Embedder embedder;

    @Test
    void cosineSimilarityWithLangChain4jIsAtLeast0_9999() {
        AllMiniLmL6V2QuantizedEmbeddingModel peer = new AllMiniLmL6V2QuantizedEmbeddingModel();
        for (String sentence : SENTENCES) {
            float[] ours = embedder.embed(sentence).vector();
            float[] theirs = peer.embed(sentence).content().vector();
            assertEquals(theirs.length, ours.length);
            double cosine = cosine(ours, theirs);
            assertTrue(cosine >= 0.9999, "cosine " + cosine + " for: " + sentence);
        }
    }

    static double cosine(float[] a, float[] b) {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.sqrt(na * nb);
    }
}
