package io.quarkiverse.modelsharing.deployment;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import io.quarkiverse.modelsharing.onnx.InvalidModelException;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelInfo;
import io.quarkiverse.modelsharing.onnx.OnnxModelInspector;

/**
 * Checks every configured model file and every {@code @Model} name at build time, so that a wrong name, a missing
 * file or a file that is not an ONNX model fails the build rather than a request.
 */
final class ModelValidator {

    private ModelValidator() {
    }

    /** Problems with the configured model files, one line each. */
    static List<String> checkFiles(Map<String, String> paths, ClassLoader classLoader) {
        List<String> problems = new ArrayList<>();
        paths.forEach((name, location) -> {
            String key = "quarkus.model-sharing.models.\"" + name + "\".path=" + location;
            if (location.isBlank()) {
                problems.add("model '" + name + "': " + key + " is empty; set it to a file path or classpath:resource");
                return;
            }
            ModelSource source;
            try {
                source = ModelSource.parse(location, classLoader);
            } catch (IllegalArgumentException e) {
                problems.add("model '" + name + "': " + key + ": " + e.getMessage());
                return;
            }
            if (!source.exists()) {
                problems.add("model '" + name + "': " + key + ": " + source.describe() + " does not exist"
                        + (source instanceof ModelSource.FileSource
                                ? " (relative paths start at " + Path.of("").toAbsolutePath() + ")"
                                : ""));
                return;
            }
            try {
                inspect(source);
            } catch (InvalidModelException e) {
                problems.add("model '" + name + "': " + key + ": " + e.getMessage());
            } catch (IOException e) {
                problems.add("model '" + name + "': " + key + ": " + source.describe() + " cannot be read: " + e.getMessage());
            }
        });
        return problems;
    }

    static OnnxModelInfo inspect(ModelSource source) throws IOException {
        if (source instanceof ModelSource.FileSource file && !Files.isReadable(file.path())) {
            throw new IOException("permission denied");
        }
        return OnnxModelInspector.inspect(source);
    }

    /** The message that fails the build, listing what is configured. */
    static String failure(List<String> problems, Map<String, String> paths) {
        StringBuilder message = new StringBuilder("Quarkus Model Sharing found ").append(problems.size())
                .append(problems.size() == 1 ? " problem" : " problems").append(" with the models:");
        problems.forEach(problem -> message.append("\n\t- ").append(problem));
        message.append("\nConfigured models: ");
        if (paths.isEmpty()) {
            message.append(
                    "none. Configure one with quarkus.model-sharing.models.\"<name>\".path=<file or classpath:resource>");
        } else {
            new TreeSet<>(paths.keySet())
                    .forEach(name -> message.append("\n\t- ").append(name).append(": ").append(paths.get(name)));
        }
        return message.toString();
    }
}
