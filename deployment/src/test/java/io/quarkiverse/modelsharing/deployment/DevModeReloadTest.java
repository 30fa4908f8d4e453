package io.quarkiverse.modelsharing.deployment;

import static io.restassured.RestAssured.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;

import jakarta.ws.rs.Path;

import org.jboss.shrinkwrap.api.asset.StringAsset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkus.test.QuarkusDevModeTest;

/** Editing or replacing a model file in dev mode reloads the model, without restarting the application. */
class DevModeReloadTest {

    static final java.nio.file.Path MODEL = java.nio.file.Path.of("target", "dev-mode-model.onnx").toAbsolutePath();
    static final float[] NEW_BIAS = { 100, 200 };

    @RegisterExtension
    static final QuarkusDevModeTest app = new QuarkusDevModeTest()
            .setLogRecordPredicate(record -> record.getLoggerName().contains("ModelFileWatcher"))
            .withApplicationRoot(jar -> jar.addClass(AffineResource.class)
                    .addAsResource(new StringAsset("quarkus.model-sharing.models.affine.path=" + MODEL + "\n"),
                            "application.properties"));

    static {
        write(MODEL, TinyModels.affine());
    }

    @AfterAll
    static void removeModel() throws IOException {
        Files.deleteIfExists(MODEL);
    }

    @Test
    void replacingTheFileReloadsTheModel() throws Exception {
        String before = get("/affine").asString();
        String instance = before.split(" ")[0];
        assertEquals(instance + " " + Arrays.toString(TinyModels.expectedAffine(new float[] { 1, 1, 1, 1 }, TinyModels.BIAS)),
                before);

        // Replace the file the way a build tool does: write a new one beside it and rename it over the old.
        java.nio.file.Path next = MODEL.resolveSibling("dev-mode-model.onnx.tmp");
        write(next, TinyModels.affine(NEW_BIAS));
        Files.move(next, MODEL, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);

        String expected = instance + " " + Arrays.toString(TinyModels.expectedAffine(new float[] { 1, 1, 1, 1 }, NEW_BIAS));
        long deadline = System.nanoTime() + 10_000_000_000L;
        String after = before;
        while (!after.equals(expected) && System.nanoTime() < deadline) {
            Thread.sleep(100);
            after = get("/affine").asString();
        }
        assertEquals(expected, after, "the new model answers, and the application instance is the same one");

        // Edit in place too.
        write(MODEL, TinyModels.affine(TinyModels.BIAS));
        deadline = System.nanoTime() + 10_000_000_000L;
        while (!after.equals(before) && System.nanoTime() < deadline) {
            Thread.sleep(100);
            after = get("/affine").asString();
        }
        assertEquals(before, after);
        assertTrue(app.getLogRecords().stream().anyMatch(r -> r.getMessage().contains("changed on disk")));
    }

    static void write(java.nio.file.Path file, byte[] bytes) {
        try {
            Files.write(file, bytes);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
