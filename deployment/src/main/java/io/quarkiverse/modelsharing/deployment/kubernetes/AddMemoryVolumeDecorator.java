package io.quarkiverse.modelsharing.deployment.kubernetes;

import io.dekorate.kubernetes.decorator.NamedResourceDecorator;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.Quantity;

/**
 * A memory-backed {@code emptyDir} (a tmpfs) with a size limit in the pod of a resource, unless the pod already has a
 * volume of that name: dekorate's own {@code emptyDir} has neither medium nor size.
 */
class AddMemoryVolumeDecorator extends NamedResourceDecorator<PodSpecBuilder> {

    private final String volume;
    private final long sizeLimitBytes;

    AddMemoryVolumeDecorator(String resource, String volume, long sizeLimitBytes) {
        super(resource);
        this.volume = volume;
        this.sizeLimitBytes = sizeLimitBytes;
    }

    @Override
    public void andThenVisit(PodSpecBuilder pod, ObjectMeta resourceMeta) {
        if (!pod.hasMatchingVolume(existing -> volume.equals(existing.getName()))) {
            pod.addNewVolume().withName(volume).withNewEmptyDir().withMedium("Memory")
                    .withSizeLimit(quantity(sizeLimitBytes)).endEmptyDir().endVolume();
        }
    }

    /** Bytes as Kubernetes writes them: in Gi or Mi when they are whole, else in bytes. */
    static Quantity quantity(long bytes) {
        if (bytes % (1L << 30) == 0) {
            return new Quantity(Long.toString(bytes >> 30), "Gi");
        }
        if (bytes % (1L << 20) == 0) {
            return new Quantity(Long.toString(bytes >> 20), "Mi");
        }
        return new Quantity(Long.toString(bytes));
    }
}
