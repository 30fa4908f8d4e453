package io.quarkiverse.modelsharing.benchmarks;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.RegistryInferenceModel;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelBuilder;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.onnx.OnnxRuntimeLibrary;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.DType;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.worker.WorkerClient;
import io.quarkiverse.modelsharing.worker.WorkerInferenceModel;

/**
 * Memory of 8 client processes that each run a model 20 times: all served by one worker process, against each with
 * a private in-process copy. Two models: all-MiniLM-L6-v2 (quantized, 23 MB on disk), where the JVMs' own costs
 * dominate, and a generated 1 GiB one (16 MatMuls with 4096×4096 weights), the size of the large embedders and
 * rerankers that teams share. Memory is PSS (proportional set size: shared pages split between the processes that map
 * them), summed over every process of the scenario, worker included; "model memory" is that total minus what as many
 * idle JVMs cost side by side, measured in the same run. Clients start one after another, each
 * once the previous one has finished, so that no process's figure includes another's start.
 */
public final class WorkerMemoryHarness {

    static final int CLIENTS = 8;
    /**
     * Every process of both scenarios: the same JVM options, a small initial heap so that a full GC returns what is
     * free, and any given in {@code -Dworkermemory.jvm} (space-separated), to see what the JVM's own settings weigh.
     */
    static final List<String> JVM_OPTIONS = jvmOptions(System.getProperty("workermemory.jvm", ""));
    static final int WIDE = 4096;
    static final int WIDE_LAYERS = 16;

    private WorkerMemoryHarness() {
    }

    private static List<String> jvmOptions(String extra) {
        List<String> options = new ArrayList<>(List.of("-Xms8m"));
        options.addAll(Arrays.stream(extra.trim().split(" +")).filter(option -> !option.isEmpty()).toList());
        return List.copyOf(options);
    }

    /** One model's figures, in KiB. */
    record Figures(String model, long sharedTotal, long privateTotal, long sharedModel, long privateModel) {
    }

    static List<Figures> measure() throws Exception {
        List<Figures> figures = new ArrayList<>();
        figures.add(measure("all-MiniLM-L6-v2 (q)", "classpath:all-minilm-l6-v2-q.onnx", "minilm"));
        Path wide = Files.createTempFile("qms-wide-", ".onnx");
        try {
            Files.write(wide, wideModel());
            figures.add(measure("generated, 1 GiB of weights", wide.toString(), "wide"));
        } finally {
            Files.delete(wide);
        }
        return figures;
    }

    /** y = x·W1·…·W16 with 4096×4096 F32 weights: 1 GiB of initializers, 20 ms a run. */
    static byte[] wideModel() {
        OnnxModelBuilder model = OnnxModelBuilder.create("wide").input("x", DType.F32, 1, WIDE);
        float[] weights = new float[WIDE * WIDE];
        String previous = "x";
        for (int layer = 0; layer < WIDE_LAYERS; layer++) {
            // distinct and non-zero: ONNX Runtime shares identical initializers, and zero pages cost nothing
            for (int i = 0; i < weights.length; i++) {
                weights[i] = (i % 7 + 1) * 1e-4f * (layer + 1);
            }
            String next = layer == WIDE_LAYERS - 1 ? "y" : "h" + layer;
            model.initializer("w" + layer, weights, WIDE, WIDE).node("MatMul", List.of(previous, "w" + layer), List.of(next));
            previous = next;
        }
        return model.output("y", DType.F32, 1, WIDE).build();
    }

    private static Figures measure(String title, String location, String kind) throws Exception {
        long[] shared;
        try (BenchmarkShm shm = new BenchmarkShm(64L << 20, 1L << 30)) {
            Path socket = shm.root.resolve("worker.sock");
            Process worker = ChildJvm.startWorker(JVM_OPTIONS, "--socket", socket.toString(),
                    "--model", "model=" + location, "--shm-dir", shm.root.toString(), "--max-batch", "1",
                    "--shm-pool-file", "4M");
            try {
                shared = run("worker " + kind + " " + location + " " + socket + " " + shm.root, CLIENTS, worker.pid());
            } finally {
                worker.destroy(); // gone before the private copies start: the two scenarios never share the machine
                worker.waitFor();
            }
        }
        long[] separate = run("private " + kind + " " + location, CLIENTS, -1);
        // What the same number of JVMs cost doing nothing, side by side: the rest is what serving the model costs.
        double idleJvm = run("idle", CLIENTS + 1, -1)[0] / (double) (CLIENTS + 1);
        long sharedTotal = shared[0] + shared[1];
        return new Figures(title, sharedTotal, separate[0], Math.round(sharedTotal - (CLIENTS + 1) * idleJvm),
                Math.round(separate[0] - CLIENTS * idleJvm));
    }

    /**
     * Starts the {@code count} clients of one scenario one after another and, once all are done and still alive, reads
     * every process's PSS at once (a page's share depends on who maps it at that moment): {clients' total PSS, the
     * worker's PSS (0 without a worker)}.
     */
    private static long[] run(String mode, int count, long workerPid) throws Exception {
        List<Process> clients = new ArrayList<>();
        long total = 0;
        long workerPss;
        try {
            for (int i = 0; i < count; i++) {
                Process client = ChildJvm.start(JVM_OPTIONS, WorkerMemoryHarness.class.getName(), mode.split(" "));
                clients.add(client);
                if (new BufferedReader(new InputStreamReader(client.getInputStream())).readLine() == null) {
                    throw new IllegalStateException("client " + i + " of '" + mode + "' ended before it was done");
                }
            }
            for (Process client : clients) {
                total += pss(client.pid()); // all done and still holding their memory
            }
            workerPss = workerPid < 0 ? 0 : pss(workerPid);
        } finally {
            for (Process client : clients) {
                client.getOutputStream().close();
                client.waitFor();
            }
        }
        return new long[] { total, workerPss };
    }

    /**
     * In a client process: {@code worker <kind> <location> <socket> <shm-dir>}, {@code private <kind> <location>}, or
     * {@code idle}. Runs the model 20 times (an idle one does nothing), says "done", then holds its memory until its
     * standard input closes.
     */
    public static void main(String[] args) throws Exception {
        List<AutoCloseable> resources = new ArrayList<>();
        if (!args[0].equals("idle")) {
            InferenceModel model;
            if (args[0].equals("worker")) {
                SharedMemoryPool pool = SharedMemoryPool.open(new SharedMemorySettings(Path.of(args[4]), 1 << 20, 64L << 20,
                        Duration.ofSeconds(1)));
                WorkerClient client = WorkerClient.connect(Path.of(args[3]), pool, "memory-harness");
                resources.add(client);
                resources.add(pool);
                model = new WorkerInferenceModel(client, "model", Duration.ofSeconds(60));
            } else {
                OnnxRuntimeLibrary.useSharedCopy(); // as a production application with a model in process does
                ModelRegistry registry = ModelRegistry.builder().build();
                registry.register("model", OnnxModelLoader.of("model",
                        ModelSource.parse(args[2], WorkerMemoryHarness.class.getClassLoader())));
                resources.add(registry);
                // held for the process's life, as a serving application would: the registry unloads idle models
                resources.add(registry.acquire("model", InferenceModel.class));
                model = new RegistryInferenceModel(registry, "model");
            }
            Map<String, Tensor> inputs = args[1].equals("wide") ? Map.of("x", Tensor.allocate(DType.F32, 1, WIDE))
                    : tokenIds();
            for (int i = 0; i < 20; i++) {
                model.run(inputs).close();
            }
            inputs.values().forEach(Tensor::close);
        }
        System.gc();
        System.out.println("done");
        System.out.flush();
        while (System.in.read() >= 0) {
            // hold the memory until the parent has measured
        }
        for (int i = resources.size() - 1; i >= 0; i--) {
            resources.get(i).close();
        }
    }

    /** Token ids of a 27-token sentence: the model's memory is what is compared, so no tokenizer runs here. */
    private static Map<String, Tensor> tokenIds() {
        long[] ids = new long[27];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i == 0 ? 101 : i == ids.length - 1 ? 102 : 2000 + i;
        }
        long[] mask = new long[27];
        Arrays.fill(mask, 1);
        long[] shape = { 1, 27 };
        return Map.of("input_ids", Tensor.of(ids, shape), "attention_mask", Tensor.of(mask, shape), "token_type_ids",
                Tensor.allocate(DType.I64, shape));
    }

    /** Proportional set size of a process, in KiB, its swapped-out share included (PSS alone leaves it out). */
    static long pss(long pid) throws IOException {
        long kib = -1;
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps_rollup"))) {
            if (line.startsWith("Pss:") || line.startsWith("SwapPss:")) {
                kib = Math.max(kib, 0) + Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        if (kib < 0) {
            throw new IllegalStateException("no Pss in /proc/" + pid + "/smaps_rollup");
        }
        return kib;
    }
}
