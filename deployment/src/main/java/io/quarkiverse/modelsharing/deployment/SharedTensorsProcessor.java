package io.quarkiverse.modelsharing.deployment;

import jakarta.inject.Singleton;

import io.quarkiverse.modelsharing.runtime.ModelSharingRecorder;
import io.quarkiverse.modelsharing.runtime.eventbus.TensorCodecRegistration;
import io.quarkiverse.modelsharing.runtime.eventbus.TensorMessageCodec;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkus.arc.deployment.AdditionalBeanBuildItem;
import io.quarkus.arc.deployment.SyntheticBeanBuildItem;
import io.quarkus.deployment.annotations.BuildProducer;
import io.quarkus.deployment.annotations.BuildStep;
import io.quarkus.deployment.annotations.ExecutionTime;
import io.quarkus.deployment.annotations.Record;
import io.quarkus.deployment.builditem.ShutdownContextBuildItem;
import io.quarkus.runtime.RuntimeValue;
import io.quarkus.vertx.deployment.MessageCodecBuildItem;

/**
 * Shared-memory tensors: the application's {@link TensorAllocator} bean, and the event-bus codec that sends
 * tensors as references.
 */
class SharedTensorsProcessor {

    @BuildStep
    MessageCodecBuildItem tensorCodec() {
        return new MessageCodecBuildItem(Tensor.class.getName(), TensorMessageCodec.class.getName());
    }

    /** Re-registers the codec at startup, after Quarkus's own local codec for {@code @ConsumeEvent} types. */
    @BuildStep
    AdditionalBeanBuildItem tensorCodecRegistration() {
        return AdditionalBeanBuildItem.unremovableOf(TensorCodecRegistration.class);
    }

    @BuildStep
    @Record(ExecutionTime.RUNTIME_INIT)
    TensorAllocatorBuildItem tensorAllocator(ModelSharingRecorder recorder, ShutdownContextBuildItem shutdown,
            BuildProducer<SyntheticBeanBuildItem> beans) {
        RuntimeValue<TensorAllocator> allocator = recorder.createTensorAllocator(shutdown);
        beans.produce(SyntheticBeanBuildItem.configure(TensorAllocator.class)
                .scope(Singleton.class)
                .setRuntimeInit()
                .unremovable()
                .runtimeValue(allocator)
                .done());
        return new TensorAllocatorBuildItem(allocator);
    }
}
