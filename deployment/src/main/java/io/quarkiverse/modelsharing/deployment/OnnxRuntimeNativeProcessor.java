package io.quarkiverse.modelsharing.deployment;

import java.util.stream.Stream;

import io.quarkiverse.modelsharing.runtime.graal.NativeMemoryFeature;
import io.quarkus.bootstrap.classloading.QuarkusClassLoader;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.builditem.NativeImageFeatureBuildItem;
import io.quarkus.deployment.builditem.nativeimage.JniRuntimeAccessBuildItem;
import io.quarkus.deployment.builditem.nativeimage.NativeImageResourcePatternsBuildItem;
import io.quarkus.deployment.builditem.nativeimage.ReflectiveClassBuildItem;
import io.quarkus.deployment.builditem.nativeimage.RuntimeInitializedClassBuildItem;

/**
 * Registers ONNX Runtime for native images, only when the application configures a model, and the tensors' FFM
 * downcalls.
 */
class OnnxRuntimeNativeProcessor {

    /** Classes that ONNX Runtime's JNI code instantiates or reads fields of. */
    static final String[] JNI_CLASSES = {
            "ai.onnxruntime.TensorInfo",
            "ai.onnxruntime.SequenceInfo",
            "ai.onnxruntime.MapInfo",
            "ai.onnxruntime.OrtException",
            "ai.onnxruntime.OnnxTensor",
            "ai.onnxruntime.OnnxSparseTensor",
            "ai.onnxruntime.OnnxSequence",
            "ai.onnxruntime.OnnxMap",
            "ai.onnxruntime.OnnxJavaType",
            "ai.onnxruntime.OrtProviderOptions",
    };

    /** Classes whose static initializers load the native library: they must run in the image, not at build. */
    static final String[] RUNTIME_INITIALIZED = {
            "ai.onnxruntime.OnnxRuntime",
            "ai.onnxruntime.OrtEnvironment",
            "ai.onnxruntime.OnnxTensorLike",
            "ai.onnxruntime.OnnxTensor",
            "ai.onnxruntime.OrtAllocator",
            "ai.onnxruntime.OrtSession",
            "ai.onnxruntime.OrtSession$SessionOptions",
            "ai.onnxruntime.OrtSession$RunOptions",
    };

    /** Tensors allocate through FFM downcalls, which a native image must register, models or not. */
    @BuildStep
    NativeImageFeatureBuildItem registerTensorDowncalls() {
        return new NativeImageFeatureBuildItem(NativeMemoryFeature.class);
    }

    @BuildStep
    void registerOnnxRuntime(ConfiguredModelsBuildItem models,
            BuildProducer<JniRuntimeAccessBuildItem> jni,
            BuildProducer<ReflectiveClassBuildItem> reflection,
            BuildProducer<NativeImageResourcePatternsBuildItem> resources,
            BuildProducer<RuntimeInitializedClassBuildItem> runtimeInitialized) {
        if (models.isEmpty()) {
            return;
        }
        jni.produce(new JniRuntimeAccessBuildItem(true, true, true, JNI_CLASSES));
        reflection.produce(ReflectiveClassBuildItem.builder(JNI_CLASSES).constructors().methods().fields().build());
        resources.produce(NativeImageResourcePatternsBuildItem.builder().includeGlobs("ai/onnxruntime/native/**").build());
        Stream.of(RUNTIME_INITIALIZED).filter(QuarkusClassLoader::isClassPresentAtRuntime)
                .map(RuntimeInitializedClassBuildItem::new).forEach(runtimeInitialized::produce);
    }
}
