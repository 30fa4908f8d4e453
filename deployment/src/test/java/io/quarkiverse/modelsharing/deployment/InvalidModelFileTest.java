package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.jboss.shrinkwrap.api.asset.StringAsset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkus.test.QuarkusUnitTest;

class InvalidModelFileTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addAsResource(new StringAsset("not a model, just text"), "models/broken.onnx"))
            .overrideConfigKey("quarkus.model-sharing.models.broken.path", "classpath:models/broken.onnx")
            .assertException(e -> assertEquals("""
                    Quarkus Model Sharing found 1 problem with the models:
                    \t- model 'broken': quarkus.model-sharing.models."broken".path=classpath:models/broken.onnx: \
                    classpath resource models/broken.onnx is not a valid ONNX model: malformed protobuf (wire type 6 at byte 1)
                    Configured models:\s
                    \t- broken: classpath:models/broken.onnx""", UnknownModelNameTest.rootCause(e).getMessage()));

    @Test
    void failsTheBuild() {
        throw new AssertionError("the build should have failed");
    }
}
