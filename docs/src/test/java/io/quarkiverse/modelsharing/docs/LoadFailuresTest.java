package io.quarkiverse.modelsharing.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;

import jakarta.inject.Inject;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.onnx.InvalidModelException;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.registry.ModelState;
import io.quarkus.test.QuarkusUnitTest;

/** What the guide says a caller gets when a model that passed the build cannot be loaded at run time. */
class LoadFailuresTest {

    static final Path FILE = Path.of("target", "load-failures", "embedder.onnx").toAbsolutePath();

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withEmptyApplication()
            .overrideConfigKey("quarkus.model-sharing.models.embedder.path", writeModel().toString());

    @Inject
    @Model("embedder")
    InferenceModel embedder;

    @Inject
    ModelRegistry registry;

    @Test
    void aFileGoneAfterTheBuildIsAnInvalidModelExceptionAndTheNextCallerRetries() throws IOException {
        Files.move(FILE, FILE.resolveSibling("moved.onnx"));
        InvalidModelException gone = assertThrows(InvalidModelException.class, () -> embedder.run(Map.of()));
        assertEquals("Model 'embedder' cannot be loaded: file " + FILE + " does not exist", gone.getMessage());
        assertEquals(ModelState.FAILED, registry.state("embedder"));

        Files.move(FILE.resolveSibling("moved.onnx"), FILE);
        assertEquals(384, embedder.outputs().get(0).shape()[2], "the next caller loads the model");
        assertEquals(ModelState.LOADED, registry.state("embedder"));
    }

    @AfterAll
    static void removeTheModel() throws IOException {
        Files.deleteIfExists(FILE.resolveSibling("moved.onnx"));
        Files.deleteIfExists(FILE);
        Files.deleteIfExists(FILE.getParent());
    }

    /** A copy of the demo's model in a file of the test's own, which the test can take away. */
    private static Path writeModel() {
        try (InputStream model = LoadFailuresTest.class.getClassLoader().getResourceAsStream("all-minilm-l6-v2-q.onnx")) {
            Files.createDirectories(FILE.getParent());
            Files.copy(model, FILE, StandardCopyOption.REPLACE_EXISTING);
            return FILE;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
