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

import ai.onnxruntime.OrtEnvironment;
import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.RegistryInferenceModel;
import io.quarkiverse.modelsharing.onnx.ModelSource;
import io.quarkiverse.modelsharing.onnx.OnnxModelLoader;
import io.quarkiverse.modelsharing.registry.ModelRegistry;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.worker.WorkerClient;
import io.quarkiverse.modelsharing.worker.WorkerInferenceModel;
import io.quarkiverse.modelsharing.worker.WorkerMain;

/**
 * Memory of 8 client processes running all-MiniLM-L6-v2 (20 requests of 27 token ids each): all served by one worker
 * process, against each with a private in-process copy. Memory is PSS (proportional set size: shared pages split between the
 * processes that map
 * them), summed over every process of the scenario, worker included; "model memory" is what each process gained
 * after its JVM and ONNX Runtime started.
 */
public final class WorkerMemoryHarness {

    static final int CLIENTS = 8;

    private WorkerMemoryHarness() {
    }

    /** {shared total, private total, shared gained, private gained} in KiB. */
    static long[] measure() throws Exception {
        try (BenchmarkShm shm = new BenchmarkShm(64L << 20, 1L << 30)) {
            Path socket = shm.root.resolve("worker.sock");
            Process worker = ChildJvm.start(WorkerMain.class.getName(), "--socket", socket.toString(), "--model",
                    "minilm=classpath:all-minilm-l6-v2-q.onnx", "--shm-dir", shm.root.toString(), "--max-batch", "1",
                    "--shm-pool-file", "4M");
            try {
                new BufferedReader(new InputStreamReader(worker.getInputStream())).readLine();
                long workerBefore = pss(worker.pid());
                long[] shared = run("worker " + socket + " " + shm.root);
                long workerAfter = pss(worker.pid());
                long[] separate = run("private");
                // The worker's own JVM and ONNX Runtime are not model memory: count what it gained serving.
                return new long[] { shared[0] + workerAfter, separate[0], shared[1] + workerAfter - workerBefore,
                        separate[1] };
            } finally {
                worker.destroy();
                worker.waitFor();
            }
        }
    }

    /** Starts the clients of one scenario, waits until each has embedded, and sums {total PSS, gained PSS}. */
    private static long[] run(String mode) throws Exception {
        List<Process> clients = new ArrayList<>();
        List<BufferedReader> outputs = new ArrayList<>();
        for (int i = 0; i < CLIENTS; i++) {
            Process client = ChildJvm.start(WorkerMemoryHarness.class.getName(), mode.split(" "));
            clients.add(client);
            outputs.add(new BufferedReader(new InputStreamReader(client.getInputStream())));
        }
        long total = 0;
        long gained = 0;
        for (int i = 0; i < CLIENTS; i++) {
            String[] line = outputs.get(i).readLine().split(" "); // "<gained KiB>" once done
            gained += Long.parseLong(line[0]);
        }
        for (Process client : clients) {
            total += pss(client.pid()); // all done and still holding their memory
        }
        for (Process client : clients) {
            client.getOutputStream().close();
            client.waitFor();
        }
        return new long[] { total, gained };
    }

    /** In a client process: embed 20 sentences through a worker or a private copy, print PSS gained, then wait. */
    public static void main(String[] args) throws Exception {
        OrtEnvironment.getEnvironment();
        System.gc();
        long before = pss(ProcessHandle.current().pid());
        List<AutoCloseable> resources = new ArrayList<>();
        InferenceModel model;
        if (args[0].equals("worker")) {
            SharedMemoryPool pool = SharedMemoryPool.open(new SharedMemorySettings(Path.of(args[2]), 1 << 20, 64L << 20,
                    Duration.ofSeconds(1)));
            WorkerClient client = WorkerClient.connect(Path.of(args[1]), pool, "memory-harness");
            resources.add(client);
            resources.add(pool);
            model = new WorkerInferenceModel(client, "minilm", Duration.ofSeconds(60));
        } else {
            ModelRegistry registry = ModelRegistry.builder().build();
            registry.register("minilm", OnnxModelLoader.of("minilm",
                    ModelSource.classpath("all-minilm-l6-v2-q.onnx", WorkerMemoryHarness.class.getClassLoader())));
            resources.add(registry);
            model = new RegistryInferenceModel(registry, "minilm");
        }
        // Token ids of a 27-token sentence: the model's memory is what is compared, so no tokenizer runs here.
        long[] ids = new long[27];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i == 0 ? 101 : i == ids.length - 1 ? 102 : 2000 + i;
        }
        long[] mask = new long[27];
        Arrays.fill(mask, 1);
        long[] shape = { 1, 27 };
        try (Tensor inputIds = Tensor.of(ids, shape);
                Tensor attention = Tensor.of(mask, shape);
                Tensor types = Tensor.allocate(io.quarkiverse.modelsharing.tensor.DType.I64, shape)) {
            for (int i = 0; i < 20; i++) {
                model.run(Map.of("input_ids", inputIds, "attention_mask", attention, "token_type_ids", types))
                        .close();
            }
        }
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

    /** Proportional set size of a process, in KiB. */
    static long pss(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "smaps_rollup"))) {
            if (line.startsWith("Pss:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new IllegalStateException("no Pss in /proc/" + pid + "/smaps_rollup");
    }
}
