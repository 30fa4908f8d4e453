package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.jboss.shrinkwrap.api.asset.ByteArrayAsset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkus.test.QuarkusUnitTest;

/** An eager model that cannot be admitted fails startup with the bytes needed and available. */
class EagerLoadTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addAsResource(new ByteArrayAsset(TinyModels.affine()), "models/affine.onnx"))
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", "classpath:models/affine.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.affine.load", "eager")
            .overrideConfigKey("quarkus.model-sharing.models.affine.memory-estimate", "2M")
            .overrideConfigKey("quarkus.model-sharing.registry.max-memory", "1M")
            .assertException(e -> assertEquals("Cannot load model 'affine': it needs 2.0 MiB (2097152 bytes) and the"
                    + " whole memory budget is 1.0 MiB (1048576 bytes); raise the budget",
                    UnknownModelNameTest.rootCause(e).getMessage()));

    @Test
    void failsStartup() {
        throw new AssertionError("startup should have failed");
    }
}
