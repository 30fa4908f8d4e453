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
 * them), summed over every process of the scenario, worker included; "model memory" is what each client gained after
 * its JVM started (ONNX Runtime included for a private copy: a client of a worker never loads it), plus what the
 * worker gained serving. Clients start one after another, each
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
        long workerBefore;
        long workerAfter;
        try (BenchmarkShm shm = new BenchmarkShm(64L << 20, 1L << 30)) {
            Path socket = shm.root.resolve("worker.sock");
            Process worker = ChildJvm.startWorker(JVM_OPTIONS, "--socket", socket.toString(),
                    "--model", "model=" + location, "--shm-dir", shm.root.toString(), "--max-batch", "1",
                    "--shm-pool-file", "4M");
            try {
                workerBefore = pss(worker.pid());
                shared = run("worker " + kind + " " + location + " " + socket + " " + shm.root, worker.pid());
                workerAfter = shared[2];
            } finally {
                worker.destroy(); // gone before the private copies start: the two scenarios never share the machine
                worker.waitFor();
            }
        }
        long[] separate = run("private " + kind + " " + location, -1);
        // The worker's own JVM and ONNX Runtime are not model memory: count what it gained serving.
        return new Figures(title, shared[0] + workerAfter, separate[0], shared[1] + workerAfter - workerBefore,
                separate[1]);
    }

    /**
     * Starts the clients of one scenario one after another and, once all are done and still alive, reads every
     * process's PSS at once (a page's share depends on who maps it at that moment): {clients' total PSS, clients' gained
     * PSS, the worker's PSS (0 without a worker)}.
     */
    private static long[] run(String mode, long workerPid) throws Exception {
        List<Process> clients = new ArrayList<>();
        long total = 0;
        long gained = 0;
        long workerPss;
        try {
            for (int i = 0; i < CLIENTS; i++) {
                Process client = ChildJvm.start(JVM_OPTIONS, WorkerMemoryHarness.class.getName(), mode.split(" "));
                clients.add(client);
                String line = new BufferedReader(new InputStreamReader(client.getInputStream())).readLine();
                if (line == null) {
                    throw new IllegalStateException("client " + i + " of '" + mode + "' ended without a figure");
                }
                gained += Long.parseLong(line.trim()); // "<gained KiB>" once done
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
        return new long[] { total, gained, workerPss };
    }

    /**
     * In a client process: {@code worker <kind> <location> <socket> <shm-dir>} or {@code private <kind> <location>}.
     * Runs the model 20 times, prints the PSS gained, then holds its memory until its standard input closes.
     */
    public static void main(String[] args) throws Exception {
        System.gc();
        long before = pss(ProcessHandle.current().pid());
        List<AutoCloseable> resources = new ArrayList<>();
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
        System.gc();
        System.out.println(pss(ProcessHandle.current().pid()) - before);
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
