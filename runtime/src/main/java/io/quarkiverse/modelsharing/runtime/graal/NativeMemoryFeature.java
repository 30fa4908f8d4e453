package io.quarkiverse.modelsharing.runtime.graal;

import org.graalvm.nativeimage.hosted.Feature;
import org.graalvm.nativeimage.hosted.RuntimeForeignAccess;

import io.quarkiverse.modelsharing.tensor.NativeMemory;

/**
 * Registers the C functions that tensors call through the FFM API, which a native image must know at build time.
 */
public class NativeMemoryFeature implements Feature {

    @Override
    public void duringSetup(DuringSetupAccess access) {
        NativeMemory.Signatures.all().forEach(RuntimeForeignAccess::registerForDowncall);
    }

    @Override
    public String getDescription() {
        return "Registers the FFM downcalls of Quarkus Model Sharing's tensors";
    }
}
