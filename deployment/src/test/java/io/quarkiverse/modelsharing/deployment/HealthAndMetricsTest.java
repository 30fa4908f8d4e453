package io.quarkiverse.modelsharing.deployment;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.startsWith;

import java.nio.file.Path;
import java.util.Map;

import jakarta.inject.Inject;

import org.jboss.shrinkwrap.api.asset.ByteArrayAsset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.Model;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkus.test.QuarkusUnitTest;

/** Readiness reports each model, and Micrometer meters count its use. */
class HealthAndMetricsTest {

    static final Path DOOMED = Path.of("target", "health-test-model.onnx").toAbsolutePath();

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .setBeforeAllCustomizer(() -> write(DOOMED))
            .setAfterAllCustomizer(() -> DOOMED.toFile().delete())
            .withApplicationRoot(jar -> jar.addAsResource(new ByteArrayAsset(TinyModels.affine()), "models/affine.onnx"))
            .overrideConfigKey("quarkus.model-sharing.models.affine.path", "classpath:models/affine.onnx")
            .overrideConfigKey("quarkus.model-sharing.models.affine.batching.enabled", "true")
            .overrideConfigKey("quarkus.model-sharing.models.doomed.path", DOOMED.toString());

    @Inject
    @Model("affine")
    InferenceModel affine;

    @Inject
    @Model("doomed")
    InferenceModel doomed;

    @Inject
    ModelRegistry registry;

    @Test
    void readinessReportsEachModel() throws Exception {
        registry.evictIdle();
        given().get("/q/health/ready").then().statusCode(200)
                .body("checks[0].name", equalTo("Model sharing"))
                .body("checks[0].data.affine", equalTo("loadable"));
        try (Tensor x = Tensor.of(new float[4], 1, 4)) {
            affine.run(Map.of("x", x)).close();
        }
        given().get("/q/health/ready").then().statusCode(200).body("checks[0].data.affine", equalTo("loaded"));

        // The file was valid at build time and is gone now: readiness goes down and says where it should be.
        java.nio.file.Files.delete(DOOMED);
        given().get("/q/health/ready").then().statusCode(503)
                .body("checks[0].data.doomed", equalTo("missing: file " + DOOMED));
        try (Tensor x = Tensor.of(new float[4], 1, 4)) {
            org.junit.jupiter.api.Assertions.assertThrows(RuntimeException.class, () -> doomed.run(Map.of("x", x)));
        }
        given().get("/q/health/ready").then().statusCode(503)
                .body("checks[0].data.doomed", startsWith("failed: Model 'doomed' cannot be loaded: file " + DOOMED));
        write(DOOMED);
    }

    @Test
    void metersCountUse() throws Exception {
        try (Tensor x = Tensor.of(new float[4], 1, 4)) {
            affine.run(Map.of("x", x)).close();
            affine.run(Map.of("x", x)).close();
        }
        given().get("/q/metrics").then().statusCode(200)
                .body(containsString("model_sharing_loads_total{model=\"affine\"} 1.0"))
                .body(containsString("model_sharing_hits_total{model=\"affine\"}"))
                .body(containsString("model_sharing_memory_bytes{model=\"affine\"}"));
        String metrics = given().get("/q/metrics").then().statusCode(200).extract().asString();
        double runs = meter(metrics, "model_sharing_batch_runs_total{model=\"affine\"}");
        double requests = meter(metrics, "model_sharing_batch_requests_total{model=\"affine\"}");
        org.junit.jupiter.api.Assertions.assertTrue(requests >= 2 && runs >= 1 && runs <= requests,
                "the in-process batcher counted the calls: " + runs + " runs, " + requests + " requests");
        org.junit.jupiter.api.Assertions.assertEquals(0.0,
                meter(metrics, "model_sharing_batch_padding_waste{model=\"affine\"}"), "nothing is padded");
    }

    static double meter(String metrics, String name) {
        return metrics.lines().filter(line -> line.startsWith(name + " ")).mapToDouble(
                line -> Double.parseDouble(line.substring(name.length() + 1))).findFirst()
                .orElseThrow(() -> new AssertionError(name + " is not in the metrics"));
    }

    static void write(Path file) {
        try {
            java.nio.file.Files.write(file, TinyModels.affine());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
