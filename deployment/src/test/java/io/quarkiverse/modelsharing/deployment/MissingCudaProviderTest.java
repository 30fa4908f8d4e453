package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkus.test.QuarkusUnitTest;

/** A worker on a CUDA device, with the CPU-only ONNX Runtime, is a clear startup error. */
class MissingCudaProviderTest {

    static final Path MODEL = TestModelFiles.write("cuda-test-affine.onnx", TinyModels.affine());

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(TestModelFiles.class))
            .overrideConfigKey("quarkus.model-sharing.devservices.enabled", "false") // managed workers, not the shared daemon
            .overrideConfigKey("quarkus.model-sharing.models.gpu.path", MODEL.toString())
            .overrideConfigKey("quarkus.model-sharing.models.gpu.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.workers.devices", "cuda:0")
            .setAfterAllCustomizer(() -> MODEL.toFile().delete())
            .assertException(e -> {
                String message = UnknownModelNameTest.rootCause(e).getMessage();
                assertTrue(message.startsWith("The model worker for cuda:0 did not start: Device cuda:0 needs ONNX Runtime's"
                        + " CUDA execution provider, which this ONNX Runtime does not have (available: [CPU])"), message);
            });

    @Test
    void failsStartup() {
        throw new AssertionError("startup should have failed");
    }
}
