package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkus.test.QuarkusUnitTest;

class NoModelConfiguredTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(Client.class))
            .assertException(e -> assertEquals(
                    """
                            Quarkus Model Sharing found 1 problem with the models:
                            \t- @Model("embedder") on io.quarkiverse.modelsharing.deployment.NoModelConfiguredTest$Client#<init>(parameter 0) \
                            names no configured model; configure it with quarkus.model-sharing.models."embedder".path=<file or classpath:resource>
                            Configured models: none. Configure one with quarkus.model-sharing.models."<name>".path=<file or classpath:resource>""",
                    UnknownModelNameTest.rootCause(e).getMessage()));

    @Test
    void failsTheBuild() {
        throw new AssertionError("the build should have failed");
    }

    @ApplicationScoped
    static class Client {
        final InferenceModel model;

        @Inject
        Client(@Model("embedder") InferenceModel model) {
            this.model = model;
        }
    }
}
