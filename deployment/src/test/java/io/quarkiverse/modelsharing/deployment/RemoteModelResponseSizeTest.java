package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkus.test.QuarkusUnitTest;

/** A remote model's answer bound must fit one buffer: a larger one fails startup with the key to change. */
class RemoteModelResponseSizeTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .overrideConfigKey("quarkus.model-sharing.models.ranker.placement", "remote")
            .overrideConfigKey("quarkus.model-sharing.models.ranker.url", "http://127.0.0.1:9")
            .overrideConfigKey("quarkus.model-sharing.models.ranker.remote.max-response-size", "4G")
            .assertException(e -> assertEquals("Model 'ranker': quarkus.model-sharing.models.\"ranker\".remote"
                    + ".max-response-size is 4294967296 bytes: it is more than 0 and less than 2G, the most one answer's"
                    + " buffer holds", UnknownModelNameTest.rootCause(e).getMessage()));

    @Test
    void failsStartup() {
        throw new AssertionError("startup should have failed");
    }
}
