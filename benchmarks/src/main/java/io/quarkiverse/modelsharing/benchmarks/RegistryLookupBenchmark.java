package io.quarkiverse.modelsharing.benchmarks;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.registry.ModelHandle;
import io.quarkiverse.modelsharing.registry.ModelRegistry;

/**
 * A cached lookup: acquire a handle to a loaded model and close it (what every {@code @Model InferenceModel} call
 * does), against a bare {@link ConcurrentHashMap#get} of the same object, the least a cache can cost.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SampleTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class RegistryLookupBenchmark {

    private ModelRegistry registry;
    private final ConcurrentHashMap<String, Object> map = new ConcurrentHashMap<>();

    @Setup(Level.Trial)
    public void setUp() {
        registry = ModelRegistry.builder().idleTimeout(null).build();
        registry.register("affine", OnnxModelLoader.of("affine", ModelSource.bytes("affine", TinyModels.affine())));
        try (ModelHandle<OnnxModel> handle = registry.acquire("affine", OnnxModel.class)) {
            map.put("affine", handle.get());
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        registry.close();
    }

    @Benchmark
    public Object registryAcquireAndClose() {
        try (ModelHandle<OnnxModel> handle = registry.acquire("affine", OnnxModel.class)) {
            return handle.get();
        }
    }

    @Benchmark
    public Object baselineConcurrentHashMapGet() {
        return map.get("affine");
    }
}
