package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import org.jboss.shrinkwrap.api.asset.ByteArrayAsset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.text.TextEmbedder;
import io.quarkiverse.modelsharing.text.TextScorer;
import io.quarkus.test.QuarkusUnitTest;

/** Text models that cannot work fail the build, each problem named. */
class TextModelMisconfiguredTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(Client.class)
                    .addAsResource(new ByteArrayAsset(TinyModels.affine()), "models/affine.onnx")
                    .addAsResource(new ByteArrayAsset(TinyModels.textEncoder(0)), "models/encoder.onnx"))
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", "classpath:models/affine.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.untokenized.path", "classpath:models/encoder.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.encoder.path", "classpath:models/encoder.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.encoder.tokenizer", "classpath:all-minilm-l6-v2-tokenizer.json")
            .overrideConfigKey("quarkus.model-sharing.models.notext.path", "classpath:models/affine.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.notext.tokenizer", "classpath:models/missing-tokenizer.json")
            .assertException(e -> assertEquals(
                    """
                            Quarkus Model Sharing found 4 problems with the models:
                            \t- model 'notext': quarkus.model-sharing.models."notext".tokenizer=classpath:models/missing-tokenizer.json: \
                            classpath resource models/missing-tokenizer.json does not exist
                            \t- model 'notext' has a tokenizer, so it is a text model, but it reads [x]; a text model reads input_ids \
                            and attention_mask, and token_type_ids if it has it
                            \t- @Model("untokenized") TextEmbedder on io.quarkiverse.modelsharing.deployment.TextModelMisconfiguredTest$Client#plain: \
                            model 'untokenized' is not a text model; configure its tokenizer with \
                            quarkus.model-sharing.models."untokenized".tokenizer=<tokenizer.json>, or inject InferenceModel
                            \t- @Model("encoder") TextScorer on io.quarkiverse.modelsharing.deployment.TextModelMisconfiguredTest$Client#scorer: \
                            model 'encoder' is configured with task=embedding; a TextScorer needs task=scoring \
                            (quarkus.model-sharing.models."encoder".task)
                            Configured models:\s
                            \t- affine: classpath:models/affine.onnx
                            \t- encoder: classpath:models/encoder.onnx
                            \t- notext: classpath:models/affine.onnx
                            \t- untokenized: classpath:models/encoder.onnx""",
                    UnknownModelNameTest.rootCause(e).getMessage()));

    @Test
    void failsTheBuild() {
        throw new AssertionError("the build should have failed");
    }

    @ApplicationScoped
    static class Client {
        @Inject
        @Model("untokenized")
        TextEmbedder plain;

        @Inject
        @Model("encoder")
        TextScorer scorer;
    }
}
