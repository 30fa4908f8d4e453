package io.quarkiverse.modelsharing.deployment.kubernetes;

import io.dekorate.kubernetes.decorator.NamedResourceDecorator;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.PodSpecBuilder;

/**
 * A {@code hostPath} directory, created by the kubelet if missing, in the pod of a resource, unless the pod already has
 * a volume of that name: dekorate has no {@code hostPath} volume.
 */
class AddHostPathVolumeDecorator extends NamedResourceDecorator<PodSpecBuilder> {

    private final String volume;
    private final String path;

    AddHostPathVolumeDecorator(String resource, String volume, String path) {
        super(resource);
        this.volume = volume;
        this.path = path;
    }

    @Override
    public void andThenVisit(PodSpecBuilder pod, ObjectMeta resourceMeta) {
        if (!pod.hasMatchingVolume(existing -> volume.equals(existing.getName()))) {
            pod.addNewVolume().withName(volume).withNewHostPath().withPath(path).withType("DirectoryOrCreate")
                    .endHostPath().endVolume();
        }
    }
}
