package io.quarkiverse.modelsharing.benchmarks;

import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.OnnxModelBuilder;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;

/**
 * A model with a 64 MiB input (the sum of 16 Mi floats): run on a shared-memory tensor that ONNX Runtime reads in
 * place, against the same run on a Java heap array that ONNX Runtime must copy in.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class LargeInputInferenceBenchmark {

    static final int FLOATS = 16 << 20;

    private Path root;
    private SharedMemoryPool pool;
    private OnnxModel model;
    private Tensor shared;
    private float[] heap;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        root = Files.createDirectory(Path.of("/dev/shm", "qms-bench-" + UUID.randomUUID()));
        pool = SharedMemoryPool.open(new SharedMemorySettings(root, 128L << 20, 256L << 20, Duration.ofSeconds(1)));
        byte[] sum = OnnxModelBuilder.create("sum")
                .input("x", DType.F32, FLOATS)
                .node("ReduceSum", List.of("x"), List.of("s"), Map.of("keepdims", 0L))
                .output("s", DType.F32)
                .build();
        model = OnnxModelLoader.of("sum", ModelSource.bytes("sum", sum)).load();
        shared = pool.allocate(DType.F32, FLOATS);
        heap = new float[FLOATS];
        for (int i = 0; i < FLOATS; i++) {
            shared.setFloat(i, 1);
            heap[i] = 1;
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        shared.close();
        model.close();
        pool.close();
        try (Stream<Path> tree = Files.walk(root)) {
            tree.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
    }

    @Benchmark
    public float oursInPlaceFromSharedMemory() {
        try (InferenceResult result = model.run(Map.of("x", shared))) {
            return result.get("s").getFloat(0);
        }
    }

    @Benchmark
    public float baselineHeapArrayCopiedIn() throws Exception {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OnnxTensor x = OnnxTensor.createTensor(env, FloatBuffer.wrap(heap), new long[] { FLOATS });
                OrtSession.Result result = model.session().run(Map.of("x", x))) {
            return ((float) result.get(0).getValue());
        }
    }
}
