package io.quarkiverse.modelsharing.deployment.kubernetes;

import io.dekorate.kubernetes.decorator.NamedResourceDecorator;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;
import io.fabric8.kubernetes.api.model.Volume;

/** A volume in the pod of a resource, unless the pod already has a volume of that name (the user's own wins). */
class AddVolumeDecorator extends NamedResourceDecorator<PodSpecBuilder> {

    private final Volume volume;

    AddVolumeDecorator(String resource, Volume volume) {
        super(resource);
        this.volume = volume;
    }

    @Override
    public void andThenVisit(PodSpecBuilder pod, ObjectMeta resourceMeta) {
        if (!pod.hasMatchingVolume(existing -> volume.getName().equals(existing.getName()))) {
            pod.addToVolumes(volume);
        }
    }
}
