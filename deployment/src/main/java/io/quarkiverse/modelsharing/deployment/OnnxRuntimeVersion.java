package io.quarkiverse.modelsharing.deployment;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;

import io.quarkus.maven.dependency.ArtifactKey;
import io.quarkus.maven.dependency.ResolvedDependency;

/**
 * The ONNX Runtime an application gets against the one the extension needs. Maven gives each artifact one version: of
 * two dependencies that bring ONNX Runtime at the same depth, the one declared first wins, so a library declared before
 * the extension (langchain4j's embedding models bring 1.20.0) downgrades it silently.
 */
final class OnnxRuntimeVersion {

    static final String GROUP = "com.microsoft.onnxruntime";
    static final List<String> ARTIFACTS = List.of("onnxruntime", "onnxruntime_gpu");
    static final String EXTENSION = "io.quarkiverse.modelsharing:quarkus-model-sharing";

    private OnnxRuntimeVersion() {
    }

    /** The version this extension is built with, from the resource the build fills in. */
    static String required() {
        try (InputStream in = OnnxRuntimeVersion.class.getResourceAsStream("onnxruntime.properties")) {
            Properties properties = new Properties();
            properties.load(in);
            return properties.getProperty("version");
        } catch (IOException | NullPointerException e) {
            throw new UncheckedIOException(new IOException("onnxruntime.properties is missing from the extension", e));
        }
    }

    /** Why {@code dependencies} cannot run the extension, if their ONNX Runtime is older than {@code required}. */
    static Optional<String> problem(Collection<ResolvedDependency> dependencies, String required) {
        for (ResolvedDependency dependency : dependencies) {
            if (GROUP.equals(dependency.getGroupId()) && ARTIFACTS.contains(dependency.getArtifactId())
                    && compare(dependency.getVersion(), required) < 0) {
                String coordinates = GROUP + ":" + dependency.getArtifactId();
                List<String> bringers = bringers(dependencies, dependency.getKey());
                return Optional.of("Quarkus Model Sharing needs ONNX Runtime (" + coordinates + ") " + required
                        + " or newer, but the application gets " + dependency.getVersion()
                        + (bringers.isEmpty() ? "" : ", brought by " + String.join(", ", bringers))
                        + ". Maven takes the version declared first: declare " + EXTENSION
                        + " before those dependencies, or pin the version in <dependencyManagement> with "
                        + coordinates + ":" + required + ".");
            }
        }
        return Optional.empty();
    }

    /** The application's own dependencies, other than the extension, through which {@code key} arrives. */
    private static List<String> bringers(Collection<ResolvedDependency> dependencies, ArtifactKey key) {
        Map<ArtifactKey, ResolvedDependency> byKey = new HashMap<>();
        dependencies.forEach(d -> byKey.put(d.getKey(), d));
        List<String> bringers = new ArrayList<>();
        for (ResolvedDependency dependency : dependencies) {
            String coordinates = dependency.getGroupId() + ":" + dependency.getArtifactId();
            if (dependency.isDirect() && !coordinates.equals(EXTENSION) && !dependency.getKey().equals(key)
                    && reaches(dependency, key, byKey, new HashSet<>())) {
                bringers.add(coordinates + ":" + dependency.getVersion());
            }
        }
        return bringers;
    }

    private static boolean reaches(ResolvedDependency from, ArtifactKey key, Map<ArtifactKey, ResolvedDependency> byKey,
            Set<ArtifactKey> seen) {
        if (!seen.add(from.getKey())) {
            return false;
        }
        return from.getDependencies().stream().anyMatch(c -> c.getKey().equals(key)
                || byKey.containsKey(c.getKey()) && reaches(byKey.get(c.getKey()), key, byKey, seen));
    }

    /** Compares dotted versions by their numbers: 1.20.0 is older than 1.29.0, and 1.29.0-rc1 counts as 1.29.0. */
    static int compare(String a, String b) {
        String[] left = a.split("[.-]");
        String[] right = b.split("[.-]");
        for (int i = 0; i < Math.max(left.length, right.length); i++) {
            int difference = Long.compare(number(left, i), number(right, i));
            if (difference != 0) {
                return difference;
            }
        }
        return 0;
    }

    private static long number(String[] parts, int i) {
        if (i >= parts.length) {
            return 0;
        }
        String digits = parts[i].replaceAll("\\D.*", "");
        return digits.isEmpty() ? 0 : Long.parseLong(digits);
    }
}
