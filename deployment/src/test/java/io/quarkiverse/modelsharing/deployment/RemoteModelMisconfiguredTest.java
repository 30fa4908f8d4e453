package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkus.test.QuarkusUnitTest;

/** A model with a url and no file must be placed remotely: anything else fails startup with the key to set. */
class RemoteModelMisconfiguredTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .overrideConfigKey("quarkus.model-sharing.models.ranker.url", "http://127.0.0.1:9")
            .assertException(e -> assertEquals("Model 'ranker' has a url and no path, but its placement is in-process:"
                    + " set quarkus.model-sharing.models.\"ranker\".placement=remote, or give it a path to run it here",
                    UnknownModelNameTest.rootCause(e).getMessage()));

    @Test
    void failsStartup() {
        throw new AssertionError("startup should have failed");
    }
}
