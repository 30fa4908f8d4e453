package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import org.jboss.shrinkwrap.api.asset.ByteArrayAsset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkus.test.QuarkusUnitTest;

class UnknownModelNameTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(Client.class)
                    .addAsResource(new ByteArrayAsset(TinyModels.affine()), "models/affine.onnx"))
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", "classpath:models/affine.onnx")
            .assertException(e -> assertEquals(
                    """
                            Quarkus Model Sharing found 1 problem with the models:
                            \t- @Model("embedder") on io.quarkiverse.modelsharing.deployment.UnknownModelNameTest$Client#model \
                            names no configured model; configure it with quarkus.model-sharing.models."embedder".path=<file or classpath:resource>
                            Configured models:\s
                            \t- affine: classpath:models/affine.onnx""",
                    rootCause(e).getMessage()));

    @Test
    void failsTheBuild() {
        throw new AssertionError("the build should have failed");
    }

    static Throwable rootCause(Throwable e) {
        while (e.getCause() != null) {
            e = e.getCause();
        }
        return e;
    }

    @ApplicationScoped
    static class Client {
        @Inject
        @Model("embedder")
        InferenceModel model;
    }
}
