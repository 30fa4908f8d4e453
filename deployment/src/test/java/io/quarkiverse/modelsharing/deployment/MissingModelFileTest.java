package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkus.test.QuarkusUnitTest;

class MissingModelFileTest {

    static final String MISSING = Path.of("target", "no-such-model.onnx").toAbsolutePath().toString();

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .overrideConfigKey("quarkus.model-sharing.models.ranker.path", MISSING)
            .overrideConfigKey("quarkus.model-sharing.models.tagger.path", "classpath:models/tagger.onnx")
            .assertException(e -> assertEquals("""
                    Quarkus Model Sharing found 2 problems with the models:
                    \t- model 'ranker': quarkus.model-sharing.models."ranker".path=%1$s: file %1$s does not exist \
                    (relative paths start at %2$s)
                    \t- model 'tagger': quarkus.model-sharing.models."tagger".path=classpath:models/tagger.onnx: \
                    classpath resource models/tagger.onnx does not exist
                    Configured models:\s
                    \t- ranker: %1$s
                    \t- tagger: classpath:models/tagger.onnx""".formatted(MISSING, Path.of("").toAbsolutePath()),
                    UnknownModelNameTest.rootCause(e).getMessage()));

    @Test
    void failsTheBuild() {
        throw new AssertionError("the build should have failed");
    }
}
