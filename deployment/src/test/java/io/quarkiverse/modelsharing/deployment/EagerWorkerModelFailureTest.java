package io.quarkiverse.modelsharing.deployment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import io.quarkiverse.modelsharing.onnx.OnnxModelBuilder;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkus.test.QuarkusUnitTest;

/**
 * An eager model placed in workers that the workers cannot load (a well-formed file, so the build accepts it, with an
 * operator ONNX Runtime does not have) fails startup, saying which model and why, and leaves no worker running.
 */
class EagerWorkerModelFailureTest {

    static final Path MODEL = TestModelFiles.write("eager-worker-broken.onnx", OnnxModelBuilder.create("broken")
            .input("x", DType.F32, 1, 4).node("NoSuchOperator", List.of("x"), List.of("y"), Map.of())
            .output("y", DType.F32, 1, 4).build());

    @RegisterExtension
    static final QuarkusUnitTest app = new QuarkusUnitTest()
            .withApplicationRoot(jar -> jar.addClass(TestModelFiles.class))
            .overrideConfigKey("quarkus.model-sharing.workers.mode", "managed")
            .overrideConfigKey("quarkus.model-sharing.models.broken.path", MODEL.toString())
            .overrideConfigKey("quarkus.model-sharing.models.broken.placement", "worker")
            .overrideConfigKey("quarkus.model-sharing.models.broken.load", "eager")
            .setAfterAllCustomizer(() -> MODEL.toFile().delete())
            .assertException(e -> {
                Throwable failure = e;
                while (failure.getCause() != null && !failure.getMessage().startsWith("Model 'broken'")) {
                    failure = failure.getCause();
                }
                String message = failure.getMessage();
                assertTrue(message.startsWith("Model 'broken' could not be loaded in managed workers on [cpu]: Failed to"
                        + " load model 'broken' from file "), message);
                assertTrue(message.contains("No Op registered for NoSuchOperator"), message);
                // this application's managed workers listen in workers-<its pid>/ (a Dev Services daemon of another
                // test may still linger, and is not one of them)
                String ours = "workers-" + ProcessHandle.current().pid() + "/";
                assertEquals(List.of(), ProcessHandle.current().descendants()
                        .filter(p -> p.info().commandLine().orElse("").contains(ours)).map(ProcessHandle::pid)
                        .toList(), "no worker is left running");
            });

    @Test
    void failsStartup() {
        throw new AssertionError("startup should have failed");
    }
}
