package io.quarkiverse.modelsharing.benchmarks;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.quarkiverse.modelsharing.inference.InferenceModel;
import io.quarkiverse.modelsharing.inference.Padding;
import io.quarkiverse.modelsharing.worker.WorkerClient;
import io.quarkiverse.modelsharing.worker.WorkerInferenceModel;

/**
 * A worker daemon (another JVM) serving the text suite's model as {@code minilm}, padded and batching up to
 * {@code maxBatch} rows without waiting for more, and one client of it, which all the suite's callers share, as an
 * application's threads share its connection. Tensors travel in a private shared-memory root.
 */
final class TextWorker implements AutoCloseable {

    static final String NAME = "minilm";
    static final Duration TIMEOUT = Duration.ofSeconds(60);

    private final BenchmarkShm shm;
    private final Process daemon;
    private final WorkerClient client;
    private final WorkerInferenceModel model;

    TextWorker(String location, Padding padding, int maxBatch) throws IOException {
        shm = new BenchmarkShm(16L << 20, 512L << 20);
        Process started = null;
        try {
            Path socket = shm.root.resolve("worker.sock");
            started = ChildJvm.startWorker(List.of(), "--socket", socket.toString(), "--model", NAME + "=" + location,
                    "--padding", NAME + "=" + padding, "--max-batch", Integer.toString(maxBatch), "--max-delay", "0ms",
                    "--shm-dir", shm.root.toString(), "--shm-max", "512M");
            client = WorkerClient.connect(socket, shm.pool, "text-benchmark");
            model = new WorkerInferenceModel(client, NAME, TIMEOUT);
            model.inputs(); // loads it
        } catch (IOException | RuntimeException e) {
            if (started != null) {
                started.destroy();
            }
            shm.close();
            throw e;
        }
        daemon = started;
    }

    InferenceModel model() {
        return model;
    }

    /** The worker's runs and requests, and the padding waste of its padded batches (NaN before any). */
    TextHarness.Counts counts() {
        return new TextHarness.Counts(() -> {
            Map<String, String> status = client.status(TIMEOUT);
            return new long[] { Long.parseLong(status.get("runs")), Long.parseLong(status.get("requests")) };
        }, () -> {
            String waste = client.status(TIMEOUT).get("padding-waste:" + NAME);
            return waste == null ? Double.NaN : Double.parseDouble(waste);
        });
    }

    @Override
    public void close() throws Exception {
        try {
            client.close();
        } finally {
            daemon.destroy();
            if (!daemon.waitFor(10, TimeUnit.SECONDS)) {
                daemon.destroyForcibly().waitFor();
            }
            shm.close();
        }
    }
}
