package io.quarkiverse.modelsharing.benchmarks;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModel;
import io.quarkiverse.modelsharing.onnx.OnnxModelBuilder;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.tensor.TensorAllocator;
import io.quarkiverse.modelsharing.worker.WorkerClient;

/**
 * The same models through a worker daemon (another JVM, over a Unix domain socket, tensors in shared memory) and in
 * process: a tiny model's round trip, and a 64 MiB input, which a third way sends as bytes through the socket, as
 * serving systems without shared memory do.
 */
public class WorkerBenchmark {

    static final int LARGE_FLOATS = 16 << 20;

    @State(Scope.Benchmark)
    public static class Worker {
        BenchmarkShm shm;
        Process daemon;
        WorkerClient shared;
        WorkerClient bytes;
        OnnxModel affine;
        OnnxModel sum;
        OnnxModel heavier;
        Tensor small;
        Tensor large;

        @Setup(Level.Trial)
        public void start() throws Exception {
            shm = new BenchmarkShm(128L << 20, 1L << 30);
            Path affineFile = Files.write(shm.root.resolve("affine.onnx"), TinyModels.affine());
            byte[] sumModel = OnnxModelBuilder.create("sum").input("x", DType.F32, -1)
                    .node("ReduceSum", List.of("x"), List.of("s"), Map.of("keepdims", 0L)).output("s", DType.F32).build();
            Path sumFile = Files.write(shm.root.resolve("sum.onnx"), sumModel);
            // the same input through a model that computes on each element before summing: a few milliseconds of work
            byte[] heavierModel = OnnxModelBuilder.create("heavier").input("x", DType.F32, -1)
                    .node("Abs", List.of("x"), List.of("a")).node("Sqrt", List.of("a"), List.of("r"))
                    .node("Exp", List.of("r"), List.of("e"))
                    .node("ReduceSum", List.of("e"), List.of("s"), Map.of("keepdims", 0L)).output("s", DType.F32).build();
            Path heavierFile = Files.write(shm.root.resolve("heavier.onnx"), heavierModel);
            Path socket = shm.root.resolve("worker.sock");
            daemon = ChildJvm.startWorker(List.of(), "--socket", socket.toString(),
                    "--model", "affine=" + affineFile, "--model", "sum=" + sumFile, "--model", "heavier=" + heavierFile,
                    "--threads", "1", "--max-batch", "1",
                    "--intra-op-threads", System.getProperty("worker.intraop", "0"),
                    "--shm-dir", shm.root.toString(), "--shm-max", "1G");
            shared = WorkerClient.connect(socket, shm.pool, "benchmark");
            bytes = WorkerClient.connect(socket, TensorAllocator.offHeap(), "benchmark-bytes");
            affine = OnnxModelLoader.of("affine", ModelSource.file(affineFile)).load();
            sum = OnnxModelLoader.of("sum", ModelSource.file(sumFile)).load();
            heavier = OnnxModelLoader.of("heavier", ModelSource.file(heavierFile)).load();
            small = shm.pool.allocate(DType.F32, 1, 4);
            small.copyFrom(new float[] { 1, 2, 3, 4 });
            large = shm.pool.allocate(DType.F32, LARGE_FLOATS);
            large.segment().fill((byte) 0);
            shared.load("affine", Duration.ofSeconds(30));
            shared.load("sum", Duration.ofSeconds(30));
            shared.load("heavier", Duration.ofSeconds(30));
        }

        @TearDown(Level.Trial)
        public void stop() throws Exception {
            shared.close();
            bytes.close();
            small.close();
            large.close();
            affine.close();
            sum.close();
            heavier.close();
            daemon.destroy();
            daemon.waitFor(10, TimeUnit.SECONDS);
            shm.close();
        }
    }

    @Benchmark
    public float smallThroughWorker(Worker w) {
        return firstThrough(w.shared, "affine", w.small, "y");
    }

    @Benchmark
    public float smallInProcess(Worker w) {
        return firstInProcess(w.affine, w.small, "y");
    }

    @Benchmark
    public float largeThroughWorker(Worker w) {
        return firstThrough(w.shared, "sum", w.large, "s");
    }

    @Benchmark
    public float largeInProcess(Worker w) {
        return firstInProcess(w.sum, w.large, "s");
    }

    @Benchmark
    public float largeBytesThroughSocket(Worker w) {
        return firstThrough(w.bytes, "sum", w.large, "s");
    }

    @Benchmark
    public float largeHeavierThroughWorker(Worker w) {
        return firstThrough(w.shared, "heavier", w.large, "s");
    }

    @Benchmark
    public float largeHeavierInProcess(Worker w) {
        return firstInProcess(w.heavier, w.large, "s");
    }

    /** Runs {@code model} on {@code x} through a worker and reads the first value of {@code output}. */
    private static float firstThrough(WorkerClient client, String model, Tensor x, String output) {
        try (InferenceResult result = client.infer(model, Map.of("x", x), Duration.ofSeconds(30))) {
            return result.get(output).getFloat(0);
        }
    }

    /** Runs {@code model} on {@code x} in this process and reads the first value of {@code output}. */
    private static float firstInProcess(OnnxModel model, Tensor x, String output) {
        try (InferenceResult result = model.run(Map.of("x", x))) {
            return result.get(output).getFloat(0);
        }
    }
}
