package io.quarkiverse.modelsharing.deployment;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkus.arc.deployment.ValidationPhaseBuildItem.ValidationErrorBuildItem;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.builditem.ModuleEnableNativeAccessBuildItem;
import io.quarkus.deployment.pkg.builditem.CurateOutcomeBuildItem;

/**
 * ONNX Runtime on the JVM: the build refuses an ONNX Runtime older than the extension's, and the packaged jar enables
 * native access for ONNX Runtime's JNI and the tensors' FFM calls.
 */
class OnnxRuntimeProcessor {

    @BuildStep
    void checkVersion(CurateOutcomeBuildItem curate, BuildProducer<ValidationErrorBuildItem> errors) {
        OnnxRuntimeVersion.problem(curate.getApplicationModel().getDependencies(), OnnxRuntimeVersion.required())
                .ifPresent(problem -> errors.produce(new ValidationErrorBuildItem(new ModelSharingException(problem))));
    }

    /**
     * Has Quarkus write {@code Enable-Native-Access: ALL-UNNAMED} into the packaged jar's manifest. The item names ONNX
     * Runtime's module; on the class path it and the extension's core, whose FFM calls need the same, are both in the
     * unnamed module that the attribute enables.
     */
    @BuildStep
    ModuleEnableNativeAccessBuildItem enableNativeAccess() {
        return new ModuleEnableNativeAccessBuildItem("com.microsoft.onnxruntime");
    }
}
