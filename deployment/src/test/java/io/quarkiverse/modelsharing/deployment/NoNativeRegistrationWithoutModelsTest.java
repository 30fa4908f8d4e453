package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.util.function.Consumer;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkus.builder.BuildChainBuilder;
import io.quarkus.builder.BuildContext;
import io.quarkus.deployment.builditem.FeatureBuildItem;
import io.quarkus.deployment.builditem.nativeimage.JniRuntimeAccessBuildItem;
import io.quarkus.deployment.builditem.nativeimage.NativeImageResourcePatternsBuildItem;
import io.quarkus.deployment.builditem.nativeimage.RuntimeInitializedClassBuildItem;
import io.quarkus.test.QuarkusUnitTest;

/** Without a model configured, the application pays nothing for ONNX Runtime in a native image. */
class NoNativeRegistrationWithoutModelsTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .addBuildChainCustomizer(nativeItems(context -> {
                assertFalse(context.consumeMulti(JniRuntimeAccessBuildItem.class).stream()
                        .anyMatch(item -> item.getClassNames().stream().anyMatch(name -> name.startsWith("ai.onnxruntime"))));
                assertFalse(context.consumeMulti(RuntimeInitializedClassBuildItem.class).stream()
                        .anyMatch(item -> item.getClassName().startsWith("ai.onnxruntime")));
            }));

    @Test
    void nothingRegistered() {
        assertEquals(1, 1);
    }

    /** A build step that reads the native-image build items and fails the build if they are wrong. */
    static Consumer<BuildChainBuilder> nativeItems(Consumer<BuildContext> assertions) {
        return chain -> chain.addBuildStep(context -> {
            assertions.accept(context);
            context.produce(new FeatureBuildItem("native-registration-check"));
        }).consumes(JniRuntimeAccessBuildItem.class)
                .consumes(RuntimeInitializedClassBuildItem.class)
                .consumes(NativeImageResourcePatternsBuildItem.class)
                .produces(FeatureBuildItem.class)
                .build();
    }
}
