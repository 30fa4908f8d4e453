package io.quarkiverse.modelsharing.docs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.tensor.StorageKind;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkus.test.QuarkusUnitTest;

/**
 * Runs the guide's Java snippets (docs/modules/ROOT/examples/java) in an application configured as the guide says,
 * with the demo's all-MiniLM-L6-v2.
 */
class SnippetsTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClasses(Embeddings.class, InjectionPoints.class, SharedTensors.class,
                    TensorEvents.class, TextSearch.class, LangChain4jEmbeddings.class))
            .overrideConfigKey("quarkus.model-sharing.models.embedder.path", "classpath:all-minilm-l6-v2-q.onnx")
            // the text models page's configuration
            .overrideConfigKey("quarkus.model-sharing.models.minilm.path", "classpath:all-minilm-l6-v2-q.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.minilm.tokenizer", "classpath:all-minilm-l6-v2-q-tokenizer.json")
            .overrideConfigKey("quarkus.model-sharing.langchain4j.embedding-model", "minilm");

    @Inject
    TextSearch search;

    @Inject
    LangChain4jEmbeddings langchain4j;

    @Test
    void textSearchFindsThePassageClosestInMeaning() {
        java.util.List<String> passages = java.util.List.of("The cat sat on the mat.",
                "Shared memory lets processes read the same bytes without copying them.",
                "Paris is the capital of France.");
        assertEquals(java.util.List.of("Shared memory lets processes read the same bytes without copying them."),
                search.closest("zero-copy tensors between processes", passages, 1));
        float[] vector = langchain4j.embed("Hello world").vector();
        assertEquals(384, vector.length, "langchain4j's EmbeddingModel is the shared minilm text model");
        assertEquals(1.0, TextSearch.dot(vector, vector), 1e-5, "normalized, as the page says");
    }

    @Inject
    Embeddings embeddings;

    @Inject
    InjectionPoints injectionPoints;

    @Inject
    SharedTensors sharedTensors;

    @Inject
    TensorEvents events;

    @Test
    void quickStartReturnsTheFirstTokensVector() throws IOException {
        Encoding hello = tokenize("Hello world");
        assertEquals("[[CLS], hello, world, [SEP]]", Arrays.toString(hello.getTokens()));
        float[] first = embeddings.firstToken(hello.getIds(), hello.getAttentionMask());
        assertEquals(384, first.length, "one vector of MiniLM's 384 dimensions, not the whole [1, 4, 384] output");
        try (Tensor ids = Tensor.of(hello.getIds(), 1, 4);
                Tensor mask = Tensor.of(hello.getAttentionMask(), 1, 4);
                Tensor types = Tensor.of(new long[4], 1, 4);
                InferenceResult all = injectionPoints.embedder()
                        .run(Map.of("input_ids", ids, "attention_mask", mask, "token_type_ids", types))) {
            float[] hidden = all.get("last_hidden_state").toFloatArray();
            assertEquals(4 * 384, hidden.length);
            assertArrayEquals(Arrays.copyOf(hidden, 384), first, "the [CLS] token's row");
        }
    }

    @Test
    void theThreeInjectionPointsReachOneModel() throws IOException {
        assertEquals("embedder", injectionPoints.embedder().name());
        assertNotNull(injectionPoints.session().get().session(), "the raw handle gives the ONNX Runtime session");
        Encoding hello = tokenize("Hello world");
        try (Tensor ids = Tensor.of(hello.getIds(), 1, 4);
                Tensor mask = Tensor.of(hello.getAttentionMask(), 1, 4);
                Tensor types = Tensor.of(new long[4], 1, 4)) {
            assertArrayEquals(new long[] { 1, 4, 384 },
                    injectionPoints.hiddenShape(Map.of("input_ids", ids, "attention_mask", mask, "token_type_ids", types)));
        }
        assertEquals(1, injectionPoints.registry().stats("embedder").loads(), "one load for every injection point");
    }

    @Test
    void outputsLandInTheAllocatorsSharedMemory() throws IOException {
        assertEquals(StorageKind.SHARED, sharedTensors.outputStorage(tokenize("Hello world").getIds()));
    }

    @Test
    void aTensorSentOnTheEventBusReachesItsConsumer() throws InterruptedException {
        float[] embedding = { 0.25f, -1.5f, 3 };
        events.send(embedding);
        assertArrayEquals(embedding, events.received().poll(10, TimeUnit.SECONDS));
    }

    private static Encoding tokenize(String text) throws IOException {
        try (InputStream json = SnippetsTest.class.getClassLoader()
                .getResourceAsStream("all-minilm-l6-v2-q-tokenizer.json");
                HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(json, Map.of("padding", "false"))) {
            return tokenizer.encode(text);
        }
    }
}
