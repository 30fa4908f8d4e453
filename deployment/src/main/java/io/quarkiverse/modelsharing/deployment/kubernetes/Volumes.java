package io.quarkiverse.modelsharing.deployment.kubernetes;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;

/**
 * The volumes the manifests carry, for the application's pod and the daemon's alike. Dekorate has no {@code hostPath}
 * volume, and its {@code emptyDir} has neither medium nor size.
 */
final class Volumes {

    private Volumes() {
    }

    /** A memory-backed {@code emptyDir} (a tmpfs) with a size limit. */
    static Volume memory(String name, long sizeLimitBytes) {
        return new VolumeBuilder().withName(name).withNewEmptyDir().withMedium("Memory")
                .withSizeLimit(quantity(sizeLimitBytes)).endEmptyDir().build();
    }

    /** A {@code hostPath} directory, created by the kubelet if missing. */
    static Volume hostDirectory(String name, String path) {
        return new VolumeBuilder().withName(name).withNewHostPath().withPath(path).withType("DirectoryOrCreate")
                .endHostPath().build();
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
