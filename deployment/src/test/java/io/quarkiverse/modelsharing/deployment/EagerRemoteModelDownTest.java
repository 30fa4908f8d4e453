package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkus.test.QuarkusUnitTest;

/** An eager remote model whose server is down fails startup, naming the model, the URL and the cause. */
class EagerRemoteModelDownTest {

    /** Port 9 (discard) on the loopback: nothing listens there on a test host. */
    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .overrideConfigKey("quarkus.model-sharing.models.ranker.placement", "remote")
            .overrideConfigKey("quarkus.model-sharing.models.ranker.url", "http://127.0.0.1:9")
            .overrideConfigKey("quarkus.model-sharing.models.ranker.remote.name", "reranker")
            .overrideConfigKey("quarkus.model-sharing.models.ranker.load", "eager")
            .assertException(e -> {
                Throwable cause = e;
                while (cause.getCause() != null && !(cause instanceof io.quarkiverse.modelsharing.ModelSharingException)) {
                    cause = cause.getCause();
                }
                String message = cause.getMessage();
                assertTrue(message.startsWith("Remote model 'ranker' at http://127.0.0.1:9/v2/models/reranker cannot be"
                        + " reached: Connection refused"), message);
            });

    @Test
    void failsStartup() {
        throw new AssertionError("startup should have failed");
    }
}
