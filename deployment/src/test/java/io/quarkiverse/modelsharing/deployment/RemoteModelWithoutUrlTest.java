package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.jboss.shrinkwrap.api.asset.ByteArrayAsset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkus.test.QuarkusUnitTest;

/** A model placed remotely needs the server's url. */
class RemoteModelWithoutUrlTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addAsResource(new ByteArrayAsset(TinyModels.affine()), "models/affine.onnx"))
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", "classpath:models/affine.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.affine.placement", "remote")
            .assertException(e -> assertEquals("Model 'affine' is placed remotely, but"
                    + " quarkus.model-sharing.models.\"affine\".url is not set: set it to the server's base URL, e.g."
                    + " http://triton:8000", UnknownModelNameTest.rootCause(e).getMessage()));

    @Test
    void failsStartup() {
        throw new AssertionError("startup should have failed");
    }
}
