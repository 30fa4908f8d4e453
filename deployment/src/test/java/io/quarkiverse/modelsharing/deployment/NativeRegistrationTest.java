package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Collectors;

import org.jboss.shrinkwrap.api.asset.ByteArrayAsset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkus.builder.BuildChainBuilder;
import io.quarkus.builder.BuildContext;
import io.quarkus.deployment.builditem.FeatureBuildItem;
import io.quarkus.deployment.builditem.NativeImageFeatureBuildItem;
import io.quarkus.deployment.builditem.nativeimage.JniRuntimeAccessBuildItem;
import io.quarkus.deployment.builditem.nativeimage.NativeImageResourcePatternsBuildItem;
import io.quarkus.deployment.builditem.nativeimage.RuntimeInitializedClassBuildItem;
import io.quarkus.test.QuarkusUnitTest;

/** With a model configured, the build registers ONNX Runtime for native images. */
class NativeRegistrationTest {

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addAsResource(new ByteArrayAsset(TinyModels.affine()), "models/affine.onnx"))
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", "classpath:models/affine.onnx")
            .addBuildChainCustomizer(nativeItems(context -> {
                List<JniRuntimeAccessBuildItem> jni = context.consumeMulti(JniRuntimeAccessBuildItem.class);
                assertTrue(jni.stream().anyMatch(item -> item.getClassNames().contains("ai.onnxruntime.TensorInfo")),
                        "ONNX Runtime's JNI classes are registered");
                List<String> runtimeInit = context.consumeMulti(RuntimeInitializedClassBuildItem.class).stream()
                        .map(RuntimeInitializedClassBuildItem::getClassName).collect(Collectors.toList());
                assertTrue(runtimeInit.contains("ai.onnxruntime.OnnxRuntime"), runtimeInit.toString());
                assertTrue(context.consumeMulti(NativeImageResourcePatternsBuildItem.class).stream()
                        .anyMatch(
                                item -> item.getIncludePatterns().stream().anyMatch(p -> p.contains("ai/onnxruntime/native"))));
            }));

    @Test
    void registered() {
        // the assertions ran in the build step above
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
                .consumes(NativeImageFeatureBuildItem.class)
                .produces(FeatureBuildItem.class)
                .build();
    }
}
