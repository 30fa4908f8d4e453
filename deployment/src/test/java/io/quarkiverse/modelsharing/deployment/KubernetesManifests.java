package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import org.yaml.snakeyaml.Yaml;

import io.quarkus.builder.Version;
import io.quarkus.maven.dependency.Dependency;

/** The resources of a generated {@code kubernetes.yml}, read as plain maps, and the parts the tests look at. */
final class KubernetesManifests {

    /** quarkus-kubernetes in the built application: a test dependency of this module is not part of it. */
    static final List<Dependency> EXTENSION = List.of(Dependency.of("io.quarkus", "quarkus-kubernetes",
            Version.getVersion()));

    private final List<Map<String, Object>> resources = new ArrayList<>();

    private KubernetesManifests(Path file) {
        try (Reader reader = Files.newBufferedReader(file)) {
            for (Object document : new Yaml().loadAll(reader)) {
                if (document != null) {
                    resources.add(map(document));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The {@code kubernetes.yml} that a prod-mode build wrote under its build directory. */
    static KubernetesManifests of(Path buildDir) {
        return new KubernetesManifests(buildDir.resolve("kubernetes").resolve("kubernetes.yml"));
    }

    Optional<Map<String, Object>> find(String kind, String name) {
        return resources.stream().filter(resource -> kind.equals(resource.get("kind"))
                && name.equals(map(resource.get("metadata")).get("name"))).findFirst();
    }

    Map<String, Object> get(String kind, String name) {
        return find(kind, name).orElseThrow(() -> new AssertionError("No " + kind + " " + name + " in " + kinds()));
    }

    List<String> kinds() {
        return resources.stream().map(resource -> resource.get("kind") + "/" + map(resource.get("metadata")).get("name"))
                .toList();
    }

    /** A workload's pod spec: {@code spec.template.spec}. */
    static Map<String, Object> podSpec(Map<String, Object> workload) {
        return map(map(map(workload.get("spec")).get("template")).get("spec"));
    }

    /** The pod's volume of that name, or empty. */
    static Optional<Map<String, Object>> volume(Map<String, Object> pod, String name) {
        return list(pod.get("volumes")).stream().map(KubernetesManifests::map)
                .filter(volume -> name.equals(volume.get("name"))).findFirst();
    }

    static Map<String, Object> container(Map<String, Object> pod, String key, String name) {
        return list(pod.get(key)).stream().map(KubernetesManifests::map)
                .filter(container -> name.equals(container.get("name"))).findFirst()
                .orElseThrow(() -> new AssertionError("No " + key + " " + name + " in " + pod.get(key)));
    }

    /** A container's mount paths, by volume name. */
    static Map<Object, Object> mounts(Map<String, Object> container) {
        Map<Object, Object> mounts = new TreeMap<>();
        list(container.get("volumeMounts")).stream().map(KubernetesManifests::map)
                .forEach(mount -> mounts.put(mount.get("name"), mount.get("mountPath")));
        return mounts;
    }

    static void assertMemoryVolume(Map<String, Object> pod, String name, String sizeLimit) {
        Map<String, Object> volume = volume(pod, name).orElseThrow(() -> new AssertionError("No volume " + name));
        assertEquals(Map.of("medium", "Memory", "sizeLimit", sizeLimit), volume.get("emptyDir"));
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object value) {
        return value == null ? Map.of() : (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    static List<Object> list(Object value) {
        return value == null ? List.of() : (List<Object>) value;
    }
}
