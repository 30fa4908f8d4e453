package io.quarkiverse.modelsharing.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

/** The guide's pages name only what exists, and say the version the build makes. */
class PagesTest {

    static final Path DOCS = Path.of("").toAbsolutePath();
    static final Path PAGES = DOCS.resolve("modules/ROOT/pages");
    static final Path REPOSITORY = DOCS.getParent();

    /** Capitalized names the pages use for what is not a Java type, or not one of this module's class path. */
    static final Set<String> NOT_JAVA = Set.of(
            "ModelProto", "TensorProto", // ONNX's protobuf messages
            "ReduceSum", "Abs", "DynamicQuantizeLinear", // ONNX operators in the pages
            "DLManagedTensorVersioned", // DLPack's C struct
            "VmRSS", // a field of /proc/<pid>/status
            "GRPCInferenceService", "ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata",
            "ModelInfer", // the Open Inference Protocol's gRPC service and its RPCs, in grpc_predict_v2.proto
            "QuarkusTest"); // io.quarkus:quarkus-junit's annotation, which the demo's tests use

    @Test
    void everyKeyTypeAndWorkerOptionThePagesNameExists() throws IOException {
        DocReferences references = new DocReferences(
                new DocReferences.Known(configKeys(), Types.fromClassPathAndSources(REPOSITORY), workerOptions(), NOT_JAVA));
        List<DocReferences.Dangling> dangling = new ArrayList<>();
        try (Stream<Path> pages = Files.list(PAGES)) {
            for (Path page : pages.filter(p -> p.toString().endsWith(".adoc")).sorted().toList()) {
                dangling.addAll(references.check(page.getFileName().toString(), Files.readString(page)));
            }
        }
        assertEquals("", dangling.stream().map(Object::toString).collect(Collectors.joining("\n")),
                "names in docs/modules/ROOT/pages that the code does not have");
    }

    @Test
    void antoraSaysTheVersionsTheBuildUses() throws IOException {
        String antora = Files.readString(DOCS.resolve("antora.yml"));
        assertEquals(System.getProperty("qms.project.version"), attribute(antora, "project-version"),
                "docs/antora.yml's project-version is the version in pom.xml");
        assertEquals(System.getProperty("qms.quarkus.version"), attribute(antora, "quarkus-version"),
                "docs/antora.yml's quarkus-version is the pom's quarkus.version");
        assertEquals(System.getProperty("qms.onnxruntime.version"), attribute(antora, "onnxruntime-version"),
                "docs/antora.yml's onnxruntime-version is the pom's onnxruntime.version");
    }

    /** The keys of the configuration reference that the config-doc plugin generates from the extension's mappings. */
    static Set<String> configKeys() throws IOException {
        Set<String> keys = new TreeSet<>();
        Pattern key = Pattern.compile("quarkus\\.model-sharing(?:\\.(?:\"[^\"]*\"|[a-z0-9-]+))+");
        try (Stream<Path> files = Files.list(PAGES.resolve("includes"))) {
            for (Path file : files.filter(f -> f.toString().endsWith(".adoc")).toList()) {
                Matcher m = key.matcher(Files.readString(file));
                while (m.find()) {
                    keys.add(m.group());
                }
            }
        }
        assertFalse(keys.isEmpty(), "the generated configuration reference lists keys");
        return keys;
    }

    /** The options {@code WorkerMain}'s command line accepts: the cases of its argument switch. */
    static Set<String> workerOptions() throws IOException {
        String source = Files.readString(
                REPOSITORY.resolve("core/src/main/java/io/quarkiverse/modelsharing/worker/WorkerMain.java"));
        Set<String> options = new TreeSet<>();
        Matcher m = Pattern.compile("case \"(--[a-z-]+)\"").matcher(source);
        while (m.find()) {
            options.add(m.group(1));
        }
        assertFalse(options.isEmpty(), "WorkerMain's switch has cases");
        return options;
    }

    private static String attribute(String antora, String name) {
        Matcher m = Pattern.compile("(?m)^\\s+" + Pattern.quote(name) + ":\\s*'?([^'\\s]+)'?\\s*$").matcher(antora);
        return m.find() ? m.group(1) : null;
    }
}
