package io.quarkiverse.modelsharing.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.junit.jupiter.api.Test;

/** The runtime artifact carries the metadata that extension catalogs and tools read. */
class ExtensionMetadataTest {

    @Test
    void theRuntimeJarDescribesTheExtension() throws IOException {
        List<String> ours = new ArrayList<>();
        for (URL url : Collections.list(getClass().getClassLoader().getResources("META-INF/quarkus-extension.yaml"))) {
            try (InputStream in = url.openStream()) {
                String yaml = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                if (yaml.contains("artifact: \"io.quarkiverse.modelsharing:quarkus-model-sharing:")) {
                    ours.add(url + "\n" + yaml);
                }
            }
        }
        assertEquals(1, ours.size(), "one descriptor of ours: " + ours);
        String descriptor = ours.get(0);
        String version = System.getProperty("qms.project.version");
        assertTrue(descriptor.contains("quarkus-model-sharing-" + version + ".jar!")
                || descriptor.contains("/runtime/target/classes/"), "from the runtime artifact: " + descriptor);
        for (String expected : List.of("name: \"Model Sharing\"",
                "artifact: \"io.quarkiverse.modelsharing:quarkus-model-sharing::jar:" + version + "\"",
                "description: \"Share ONNX models and tensors",
                "guide: \"https://docs.quarkiverse.io/quarkus-model-sharing/dev/index.html\"",
                "status: \"preview\"", "- \"quarkus.model-sharing.\"", "- \"onnx\"", "- \"miscellaneous\"")) {
            assertTrue(descriptor.contains(expected), "says " + expected + ":\n" + descriptor);
        }
    }
}
