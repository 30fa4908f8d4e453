package io.quarkiverse.modelsharing.runtime.graal;

import java.lang.foreign.MemorySegment;
import java.lang.reflect.Method;

import org.graalvm.nativeimage.hosted.Feature;
import org.graalvm.nativeimage.hosted.RuntimeForeignAccess;
import org.graalvm.nativeimage.hosted.RuntimeReflection;

import io.quarkiverse.modelsharing.ForeignCalls;
import io.quarkiverse.modelsharing.dlpack.DLPack;

/**
 * Registers the C functions that Quarkus Model Sharing calls through the FFM API (tensors' memory, shared-memory
 * pool files, DLPack), with their linker options, and the DLPack deleter that C calls back: a native image must know
 * them at build time.
 */
public class NativeMemoryFeature implements Feature {

    @Override
    public void duringSetup(DuringSetupAccess access) {
        ForeignCalls.downcalls().forEach(call -> RuntimeForeignAccess.registerForDowncall(call.descriptor(),
                (Object[]) call.options()));
        Method registerForUpcall = upcallRegistration();
        if (registerForUpcall != null) {
            // DLPack finds its deleter with MethodHandles.lookup().findStatic, which a native image resolves by reflection
            try {
                RuntimeReflection.register(DLPack.class.getDeclaredMethod("deleteExported", MemorySegment.class));
            } catch (NoSuchMethodException e) {
                throw new IllegalStateException("DLPack's deleter is not where this Feature expects it", e);
            }
            for (Object upcall : ForeignCalls.upcalls()) {
                try {
                    registerForUpcall.invoke(null, upcall, new Object[0]);
                } catch (ReflectiveOperationException e) {
                    throw new IllegalStateException("Cannot register the upcall " + upcall + " for the native image", e);
                }
            }
        }
    }

    /** Upcall registration came after the GraalVM SDK we compile against: use the builder's, if it has one. */
    private static Method upcallRegistration() {
        try {
            return RuntimeForeignAccess.class.getMethod("registerForUpcall", Object.class, Object[].class);
        } catch (NoSuchMethodException e) {
            return null; // an older builder: DLPack (which links its upcall when first used) is unavailable in native images
        }
    }

    @Override
    public String getDescription() {
        return "Registers the FFM downcalls and upcalls of Quarkus Model Sharing";
    }
}
