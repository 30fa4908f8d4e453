package io.quarkiverse.modelsharing.benchmarks;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import io.quarkiverse.modelsharing.inference.InferenceResult;
import io.quarkiverse.modelsharing.onnx.TinyModels;
import io.quarkiverse.modelsharing.shm.SharedMemoryPool;
import io.quarkiverse.modelsharing.shm.SharedMemorySettings;
import io.quarkiverse.modelsharing.tensor.Tensor;
import io.quarkiverse.modelsharing.worker.WorkerClient;

/**
 * 1,000 concurrent requests from 4 client processes (250 at once each, released together) to one worker serving a
 * small model, with dynamic batching on (8 rows, 10 ms) and off: errors, throughput and latency percentiles.
 */
public final class ConcurrencyHarness {

    static final int CLIENTS = 4;
    static final int PER_CLIENT = 250;

    private ConcurrencyHarness() {
    }

    /** One batching setting's figures. */
    record Figures(String setting, int requests, int errors, double perSecond, double p50Millis, double p99Millis) {
        String line() {
            return String.format(java.util.Locale.ROOT,
                    "%s: %d requests, %d errors, %.0f requests/s, p50 %.1f ms, p99 %.1f ms", setting, requests, errors,
                    perSecond, p50Millis, p99Millis);
        }
    }

    /** The figures, one per batching setting. */
    static List<Figures> measure() throws Exception {
        List<Figures> lines = new ArrayList<>();
        for (int maxBatch : new int[] { 8, 1 }) {
            try (BenchmarkShm shm = new BenchmarkShm(4L << 20, 256L << 20)) {
                Path model = Files.write(shm.root.resolve("affine.onnx"), TinyModels.affine());
                Path socket = shm.root.resolve("worker.sock");
                Process worker = ChildJvm.startWorker(List.of(), "--socket", socket.toString(), "--model",
                        "affine=" + model,
                        "--threads", "2", "--queue", "2048", "--max-batch", Integer.toString(maxBatch), "--max-delay", "10ms",
                        "--shm-dir", shm.root.toString(), "--shm-pool-file", "4M");
                try {
                    List<Process> clients = new ArrayList<>();
                    for (int i = 0; i < CLIENTS; i++) {
                        clients.add(ChildJvm.start(ConcurrencyHarness.class.getName(), socket.toString(), shm.root.toString()));
                    }
                    int errors = 0;
                    long slowestMillis = 0;
                    List<Long> latencies = new ArrayList<>();
                    for (Process client : clients) {
                        String[] result = new BufferedReader(new InputStreamReader(client.getInputStream())).readLine()
                                .split(" ");
                        errors += Integer.parseInt(result[0]);
                        slowestMillis = Math.max(slowestMillis, Long.parseLong(result[1]));
                        for (int i = 2; i < result.length; i++) {
                            latencies.add(Long.parseLong(result[i]));
                        }
                        client.waitFor();
                    }
                    long[] sorted = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
                    lines.add(new Figures(maxBatch > 1 ? "batching on (8, 10 ms)" : "batching off", sorted.length + errors,
                            errors, (sorted.length + errors) * 1000.0 / Math.max(slowestMillis, 1),
                            sorted[sorted.length / 2] / 1e6, sorted[(int) (sorted.length * 0.99)] / 1e6));
                } finally {
                    worker.destroy();
                    worker.waitFor();
                }
            }
        }
        return lines;
    }

    /** In a client process: 250 requests released at once; prints errors, wall millis and each latency in ns. */
    public static void main(String[] args) throws Exception {
        try (SharedMemoryPool pool = SharedMemoryPool.open(new SharedMemorySettings(Path.of(args[1]), 1 << 20, 64L << 20,
                Duration.ofSeconds(1))); WorkerClient client = WorkerClient.connect(Path.of(args[0]), pool, "concurrency")) {
            client.load("affine", Duration.ofSeconds(30));
            CountDownLatch start = new CountDownLatch(1);
            CountDownLatch done = new CountDownLatch(PER_CLIENT);
            AtomicInteger errors = new AtomicInteger();
            long[] latencies = new long[PER_CLIENT];
            for (int i = 0; i < PER_CLIENT; i++) {
                int index = i;
                Thread.ofVirtual().start(() -> {
                    try (Tensor x = Tensor.of(new float[] { index, 1, 2, 3 }, 1, 4)) {
                        start.await();
                        long begin = System.nanoTime();
                        try (InferenceResult result = client.infer("affine", Map.of("x", x), Duration.ofSeconds(60))) {
                            latencies[index] = System.nanoTime() - begin;
                            float expected = TinyModels.expectedAffine(new float[] { index, 1, 2, 3 }, TinyModels.BIAS)[0];
                            if (Math.abs(result.get("y").getFloat(0) - expected) > 1e-3f) {
                                if (errors.incrementAndGet() == 1) {
                                    System.err
                                            .println("first wrong answer: " + result.get("y").getFloat(0) + " for " + expected);
                                }
                            }
                        }
                    } catch (Exception e) {
                        if (errors.incrementAndGet() == 1) {
                            System.err.println("first error: " + e);
                        }
                        latencies[index] = -1;
                    } finally {
                        done.countDown();
                    }
                });
            }
            long begin = System.nanoTime();
            start.countDown();
            done.await();
            long wall = (System.nanoTime() - begin) / 1_000_000;
            StringBuilder line = new StringBuilder().append(errors.get()).append(' ').append(wall);
            Arrays.stream(latencies).filter(l -> l >= 0).forEach(l -> line.append(' ').append(l));
            System.out.println(line);
        }
    }

}
