package io.quarkiverse.modelsharing.benchmarks;

import java.nio.FloatBuffer;
import java.util.List;
import java.util.Map;
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

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.OnnxModelBuilder;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
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

    private BenchmarkShm shm;
    private OnnxModel model;
    private Tensor shared;
    private float[] heap;

    @Setup(Level.Trial)
    public void setUp() throws Exception {
        shm = new BenchmarkShm(128L << 20, 256L << 20);
        byte[] sum = OnnxModelBuilder.create("sum")
                .input("x", DType.F32, FLOATS)
                .node("ReduceSum", List.of("x"), List.of("s"), Map.of("keepdims", 0L))
                .output("s", DType.F32)
                .build();
        model = OnnxModelLoader.of("sum", ModelSource.bytes("sum", sum)).load();
        shared = shm.pool.allocate(DType.F32, FLOATS);
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
        shm.close();
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
