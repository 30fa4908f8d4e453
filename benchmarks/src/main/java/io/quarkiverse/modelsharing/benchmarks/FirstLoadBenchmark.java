package io.quarkiverse.modelsharing.benchmarks;

import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.registry.ModelHandle;
import io.quarkiverse.modelsharing.registry.ModelRegistry;

/**
 * The first load of a tiny model through a fresh registry, against creating the same ONNX Runtime session by hand.
 * Each invocation starts cold for the registry; ONNX Runtime's process-wide environment is created once per fork.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class FirstLoadBenchmark {

    private final byte[] model = TinyModels.affine();

    @Benchmark
    public long registryFirstLoad() {
        try (ModelRegistry registry = ModelRegistry.builder().build()) {
            registry.register("affine", OnnxModelLoader.of("affine", ModelSource.bytes("affine", model)));
            try (ModelHandle<?> handle = registry.acquire("affine")) {
                return handle.generation();
            }
        }
    }

    @Benchmark
    public long baselineOrtCreateSession() throws OrtException {
        try (OrtSession session = OrtEnvironment.getEnvironment().createSession(model)) {
            return session.getNumInputs();
        }
    }
}
